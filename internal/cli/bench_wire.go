// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/wirebench"
)

func newBenchWireCmd() *cobra.Command {
	var (
		asJSON    bool
		duration  time.Duration
		warmup    time.Duration
		runs      int
		pin       string
		cases     []string
		wireConns int
		inproc    bool
		serve     bool
	)
	cmd := &cobra.Command{
		Use:   "wire",
		Short: "Measure wire against raw TCP: request/response and streaming",
		Long: `wire measures request/response with 1-byte and 100-byte payloads at 1 and
200 concurrent senders, and 64 KiB message streaming, over wire (one Mux per
side, one Socket per sender) and over raw TCP (one connection per sender),
interleaved in the same run. The server side runs in a child process. With
--pin both (the default) every case is measured twice: with the two ends
free to run on any CPU, and with both pinned to one CPU (cases "-pinned").
Reported values are medians over --runs repetitions.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			transports := []wirebench.Transport{wirebench.TCP(), wirebench.Wire(wirebench.WireOptions{Conns: wireConns})}
			if serve {
				return wirebench.ServeMain(cmd.Context(), transports, cmd.InOrStdin(), cmd.OutOrStdout())
			}
			p, err := wirebench.ParsePinning(pin)
			if err != nil {
				return err
			}
			opts := wirebench.Options{
				Bench:      "wire",
				Baseline:   transports[0],
				Candidates: transports[1:],
				Duration:   duration,
				Warmup:     warmup,
				Runs:       runs,
				Pin:        p,
				Log:        cmd.ErrOrStderr(),
			}
			if opts.Cases, err = selectCases(cases); err != nil {
				return err
			}
			if !inproc {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the pollen binary to run the server: %w", err)
				}
				opts.Server = &wirebench.ServerCommand{
					Path:   exe,
					Args:   []string{"bench", "wire", "--serve", fmt.Sprintf("--wire-conns=%d", wireConns)},
					Stderr: cmd.ErrOrStderr(),
				}
			}
			w := report.NewWriter(cmd.OutOrStdout(), asJSON)
			if err := wirebench.Run(cmd.Context(), opts, w.Add); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result")
	f.DurationVar(&duration, "duration", 5*time.Second, "measurement time per transport, case and run")
	f.DurationVar(&warmup, "warmup", 0, "unmeasured time before each measurement (0: duration/10, at most 1s)")
	f.IntVar(&runs, "runs", 1, "interleaved repetitions; medians are reported")
	f.StringVar(&pin, "pin", "both", "run both ends pinned to one CPU: off, on or both")
	f.StringSliceVar(&cases, "case", nil, "cases to run (default all): "+strings.Join(caseNames(), ", "))
	f.IntVar(&wireConns, "wire-conns", 1, "TCP connections under each wire mux")
	f.BoolVar(&inproc, "inproc", false, "run the server side in this process instead of a child process")
	f.BoolVar(&serve, "serve", false, "run as the benchmark's server process (internal)")
	_ = f.MarkHidden("serve")
	return cmd
}

func caseNames() []string {
	var names []string
	for _, c := range wirebench.DefaultCases() {
		names = append(names, c.Name)
	}
	return names
}

// selectCases returns the default cases named in names, all for none.
func selectCases(names []string) ([]wirebench.Case, error) {
	all := wirebench.DefaultCases()
	if len(names) == 0 {
		return all, nil
	}
	var out []wirebench.Case
	for _, n := range names {
		i := slices.IndexFunc(all, func(c wirebench.Case) bool { return c.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown case %q (have %s)", n, strings.Join(caseNames(), ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
