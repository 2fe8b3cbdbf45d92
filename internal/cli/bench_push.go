// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/swarmbench"
	"github.com/pollen-dev/pollen/internal/units"
)

func newBenchPushCmd() *cobra.Command {
	var (
		c         common
		receivers []int
		size      = units.Size(64 << 20)
		rate      = units.Rate(100e6 / 8)
		pieceSize units.Size
		timeout   time.Duration
		asJSON    bool
		pollenBin string
		tsoSegs   int
		queueLat  time.Duration
		traceDir  string
	)
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push one file to 1, 4 and 16 hosts in network namespaces",
		Long: `push builds one pusher host and as many receiver hosts as the largest
--receivers count in network namespaces, every link shaped to --rate up and
down (tc), generates a --size file on the pusher and, for each count N in
turn, starts N ` + "`pollen receive`" + ` and runs ` + "`pollen push`" + ` to them. For each N it
reports the time until every copy is placed and verified beside the fluid
lower bound, that time over the first round's, the bytes the pusher's link
sent and its origin served beside the file's size (about one copy whatever
N), and the pusher's system calls (counted by perf, or strace without it),
in total, per piece and sendfile calls. Needs root and perf or strace.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "bench.push")
			if err != nil {
				return err
			}
			if pollenBin, err = labBinary("bench push", pollenBin); err != nil {
				return err
			}
			cfg := swarmbench.PushConfig{
				Binary: pollenBin, Receivers: receivers, Size: size, Rate: rate,
				PieceSize: pieceSize, Timeout: timeout, MinTSOSegs: tsoSegs, QueueLatency: queueLat, TraceDir: traceDir, Logger: log,
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			w := report.NewWriter(cmd.OutOrStdout(), asJSON)
			if err := swarmbench.RunPush(cmd.Context(), cfg, w); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	c.addFlags(cmd, "info")
	f := cmd.Flags()
	f.IntSliceVar(&receivers, "receivers", []int{1, 4, 16}, "numbers of receiver hosts, one round each, comma separated")
	f.Var(&size, "size", "size of the file")
	f.Var(&rate, "rate", "every host's upload and download rate, the pusher's included")
	f.Var(&pieceSize, "piece-size", "piece size (0: chosen from the file size)")
	f.DurationVar(&timeout, "timeout", 0, "bound on each round (0: a minute plus 5 times N copies through the pusher's link)")
	f.IntVar(&tsoSegs, "min-tso-segs", 0, "the hosts' net.ipv4.tcp_min_tso_segs, segments per GSO packet on the shaped links (0: 44, one 64 KiB packet; -1: the kernel's 2)")
	f.DurationVar(&queueLat, "queue-latency", 0, "longest a packet may wait in a link's tbf queue, which sets the queue's length (0: 50ms)")
	f.StringVar(&traceDir, "trace", "", "keep each round's debug logs (per-piece timelines) and every host's sent rate per 250ms in DIR/n<N>/")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result")
	f.StringVar(&pollenBin, "pollen-binary", "", "pollen executable to run in the hosts (default: this one)")
	return cmd
}
