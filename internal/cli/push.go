// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/push"
	"github.com/pollen-dev/pollen/internal/units"
)

func newPushCmd() *cobra.Command {
	var (
		c          common
		cfg        push.PusherConfig
		to         []string
		originRate units.Rate
		pieceSize  units.Size
	)
	cmd := &cobra.Command{
		Use:   "push FILE... --to HOST:PORT[,HOST:PORT...]",
		Short: "Send files to many receivers at once, peer to peer",
		Long: `push hashes each FILE once, seeds it from a scheduler and an HTTP origin
started in this process, and offers it to every receiver (` + "`pollen receive`" + `)
at once. The receivers fetch the pieces from each other; the pusher serves
each piece about once, whatever the number of receivers. A bar per receiver
is drawn on stderr when it is a terminal. The summary on stdout has a line
per receiver and file (bytes, bytes from the pusher, time, rate, status) and
what the pusher's origin served (bytes, requests, sendfile calls). Exit
status 1 if any receiver failed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MinimumNArgs(1)(cmd, args); err != nil {
				return usageError(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := c.setup(cmd, "push")
			if err != nil {
				return err
			}
			for _, r := range to {
				if r = strings.TrimSpace(r); r != "" {
					cfg.Receivers = append(cfg.Receivers, r)
				}
			}
			if len(cfg.Receivers) == 0 {
				return usageError(errors.New("push: --to names no receiver"))
			}
			cfg.Files, cfg.Logger, cfg.Progress = args, log, cmd.ErrOrStderr()
			cfg.OriginRate, cfg.PieceSize = int64(originRate), int64(pieceSize)
			reports, st, err := push.Push(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := push.WriteSummary(out, reports); err != nil {
				return err
			}
			writePushStats(out, st, len(cfg.Receivers))
			if code := push.ExitCode(reports); code != 0 {
				return &ExitError{Code: code, Err: fmt.Errorf("push: %d of %d transfers failed", push.Failed(reports), len(reports))}
			}
			return nil
		},
	}
	c.addFlags(cmd, "warn")
	f := cmd.Flags()
	f.StringSliceVar(&to, "to", nil, "receivers, host:port, comma separated")
	f.StringVar(&cfg.Token, "token", "", "secret the receivers require")
	f.StringVar(&cfg.Listen, "listen", ":0", "TCP address of this push's scheduler, host:port (the origin takes a free port on the same host)")
	f.Var(&originRate, "origin-rate", "cap on the bytes this host serves (0: unlimited)")
	f.Var(&pieceSize, "piece-size", "piece size (0: chosen from the file size)")
	f.IntVar(&cfg.Scheduler.OriginConcurrency, "origin-concurrency", 0, "most pieces of one file fetched from this host at once (0: 8)")
	return cmd
}

// writePushStats prints what the pusher's own data path did.
func writePushStats(w io.Writer, st push.PushStats, receivers int) {
	o := st.Origin
	fmt.Fprintf(w, "origin: served %d bytes (%.2f× the files, %d receivers), %d requests, %d sendfile calls for %d files of %d pieces\n",
		o.Bytes, float64(o.Bytes)/float64(max(st.Bytes, 1)), receivers, o.Requests, o.Sends, st.Files, st.Pieces)
}
