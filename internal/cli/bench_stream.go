// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/streambench"
	"github.com/pollen-dev/pollen/internal/units"
)

func newBenchStreamCmd() *cobra.Command {
	var (
		c          common
		peers      int
		size       = units.Size(64 << 20)
		pieceSize  units.Size
		window     int
		originRate units.Rate
		runs       int
		timeout    time.Duration
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Stream mode against plain get: first byte, throughput, memory, disk writes",
		Long: `stream starts an HTTP origin, a scheduler and --peers daemons on loopback in
this process and has every daemon fetch the same --size object at once,
in stream mode (the consumer discards the bytes as they come) and in file
mode (plain get to a file), alternating the order, --runs times, each
time as a new task. For each mode it measures the consumer's time to
first byte (for a plain get, when the complete file appears), the time
until every peer has every byte and the throughput per peer it implies,
the process's peak RSS and Go heap, the bytes written to disk
(/proc/self/io) and the copies of the object the origin served. Medians
are reported, plain get as the baseline.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "bench.stream")
			if err != nil {
				return err
			}
			cfg := streambench.Config{
				Peers: peers, Size: int64(size), PieceSize: int64(pieceSize), Window: window,
				OriginRate: int64(originRate), Runs: runs, Timeout: timeout, Logger: log,
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			w := report.NewWriter(cmd.OutOrStdout(), asJSON)
			if err := streambench.Run(cmd.Context(), cfg, w.Add); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	c.addFlags(cmd, "warn")
	f := cmd.Flags()
	f.IntVar(&peers, "peers", 4, "number of daemons fetching the object at once")
	f.Var(&size, "size", "size of the object")
	f.Var(&pieceSize, "piece-size", "piece size (0: chosen from the size)")
	f.IntVar(&window, "window", 0, "stream window in pieces (0: the daemon's default, 16 pieces and at least 4 MiB)")
	f.Var(&originRate, "origin-rate", "cap on the origin's upload (0: unlimited)")
	f.IntVar(&runs, "runs", 3, "repetitions of each mode; medians are reported")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "bound on one mode's run")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result")
	return cmd
}
