// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/push"
	"github.com/pollen-dev/pollen/internal/units"
)

func newReceiveCmd() *cobra.Command {
	var (
		c        common
		rcfg     push.Config
		scfg     push.ServerConfig
		maxSize  = units.Size(push.DefaultMaxSize)
		upload   units.Rate
		download units.Rate
		staleAge time.Duration
	)
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "Accept files pushed with `pollen push` and place them under --dir",
		Long: `receive listens on --listen for offers from ` + "`pollen push`" + `. Each offer is
checked before any byte moves (the token, the name, which cannot leave --dir,
and the size against --max-size), then fetched from the pusher's swarm by a
daemon started for it, verified, and placed atomically under --dir: a file
appears only complete and verified. That daemon keeps serving the file to the
other receivers for --linger. At start it removes the temporary files a
receiver killed mid-file left under --dir (see --stale-age). Without --token
it refuses to start unless --insecure. It runs until SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "receive")
			if err != nil {
				return err
			}
			rcfg.MaxSize = int64(maxSize)
			if rcfg.MaxSize <= 0 {
				return usageError(errors.New("receive: --max-size must be positive"))
			}
			if err := rcfg.Validate(); err != nil {
				return usageError(err)
			}
			if scfg.DataDir == "" {
				scfg.DataDir = filepath.Join(defaultDataDir(), "receive")
			}
			scfg.Daemon.UploadRate, scfg.Daemon.DownloadRate = int64(upload), int64(download)
			scfg.Logger = log
			if scfg.Linger == 0 {
				scfg.Linger = -1 // --linger 0: no linger
			}
			recv, err := push.New(rcfg)
			if err != nil {
				return err
			}
			defer func() { _ = recv.Close() }()
			// Temporary files of a receiver that was killed mid-file.
			removed, err := recv.RemoveStale(staleAge)
			if err != nil {
				log.Warn("receive: removing stale temporary files", "err", err)
			}
			if len(removed) > 0 {
				log.Info("receive: removed stale temporary files", "count", len(removed), "first", removed[0])
			}
			srv, err := push.NewServer(recv, scfg)
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			log.Info("receiving", "addr", srv.Addr(), "dir", recv.Dir())
			return runTasks(cmd.Context(), task{"receive", srv.Run})
		},
	}
	c.addFlags(cmd, "info")
	f := cmd.Flags()
	f.StringVar(&scfg.Listen, "listen", ":7602", "TCP address pushers send offers to, host:port")
	f.StringVar(&rcfg.Dir, "dir", ".", "directory pushed files are placed under")
	f.StringVar(&rcfg.Token, "token", "", "secret pushers must present")
	f.BoolVar(&rcfg.Insecure, "insecure", false, "accept pushes from anyone when no --token is set")
	f.BoolVar(&rcfg.Overwrite, "overwrite", false, "let a pushed file replace an existing file of the same name")
	f.Var(&maxSize, "max-size", "largest file accepted")
	f.StringVar(&scfg.DataDir, "data", "", "piece stores of the downloads in flight (default: receive under the daemon's data directory)")
	f.DurationVar(&scfg.Linger, "linger", push.DefaultLinger, "how long a placed file keeps being served to the other receivers")
	f.Var(&upload, "upload-rate", "cap on the bytes served to other receivers, per file (0: unlimited)")
	f.Var(&download, "download-rate", "cap on the bytes fetched, per file (0: unlimited)")
	f.DurationVar(&staleAge, "stale-age", push.DefaultStaleAge, "at start, remove temporary files (.pollen-push-*.tmp) under --dir untouched for this long that no receiver holds")
	return cmd
}
