// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/msgbench"
	"github.com/pollen-dev/pollen/internal/report"
)

func newBenchMsgCmd() *cobra.Command {
	var (
		asJSON   bool
		duration time.Duration
		runs     int
		sizes    []int
		inproc   bool
		serve    bool
	)
	cmd := &cobra.Command{
		Use:   "msg",
		Short: "Measure msg against the network penalty of raw TCP and Unix sockets",
		Long: `msg measures the network penalty P(n) — half the round trip of a raw echo of
n bytes, from 32 B to 1 MiB, over TCP loopback and a Unix socket, with raw
read(2) and write(2) on both ends — and fits
it to a line (fixed cost + cost per byte, least squares). Beside it, at the
same sizes: msg's Send/Receive/Reply (an n-byte message answered with n
bytes) against the raw ping-pong, with its overhead above 2·P(n); MoveFrom
of n bytes against a raw push of the same bytes; both also in one process.
Then the V kernel's questions: M1 remote/local Send/Receive/Reply ratio, M2
protocol overhead above 2·P, M3 a page read with ReplyWithSegment against
MoveTo + Reply. The serving side runs in a child process; cases are
interleaved within each run and medians over --runs are reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serve {
				return msgbench.ServeMain(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
			}
			opts := msgbench.Options{Duration: duration, Runs: runs, Sizes: sizes, Log: cmd.ErrOrStderr()}
			if !inproc {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the pollen binary to run the server: %w", err)
				}
				opts.Server = &msgbench.ServerCommand{Path: exe, Args: []string{"bench", "msg", "--serve"}, Stderr: cmd.ErrOrStderr()}
			}
			w := report.NewWriter(cmd.OutOrStdout(), asJSON)
			if err := msgbench.Run(cmd.Context(), opts, w.Add); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print one JSON object per result")
	f.DurationVar(&duration, "duration", 200*time.Millisecond, "measurement time per case and run")
	f.IntVar(&runs, "runs", 5, "interleaved repetitions; medians are reported")
	f.IntSliceVar(&sizes, "sizes", nil, "message and move sizes in bytes (default 32 and 64 B to 1 MiB; moves up to 4 MiB, messages up to 1 MiB); the first is used for M1 and M2")
	f.BoolVar(&inproc, "inproc", false, "run the server side in this process instead of a child process")
	f.BoolVar(&serve, "serve", false, "run as the benchmark's server process (internal)")
	_ = f.MarkHidden("serve")
	return cmd
}
