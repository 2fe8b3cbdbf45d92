// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/metrics"
	"github.com/pollen-dev/pollen/internal/units"
)

func newDaemonCmd() *cobra.Command {
	var (
		c           common
		metricsAddr string
		cfg         daemon.Config
		upload      = units.Rate(50e6 / 8)
		download    = units.Rate(200e6 / 8)
		quota       units.Size
		pieceSize   units.Size
	)
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the per-host daemon that fetches, verifies, stores and serves pieces",
		Long: `daemon downloads tasks piece by piece from the parents the scheduler names
and from the source, verifies every piece before it keeps or serves it,
serves the pieces it holds to other daemons on --listen and answers
` + "`pollen get`" + ` on the Unix socket --socket (mode 0600). Without --scheduler
every piece comes from the source. Rates are in bit/s (50Mbit) or bytes/s
(10MiB/s); 0 means unlimited. It runs until SIGINT or SIGTERM and then shuts
down gracefully; what it holds stays on disk and a restart resumes.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "daemon")
			if err != nil {
				return err
			}
			cfg.UploadRate, cfg.DownloadRate = int64(upload), int64(download)
			cfg.Quota, cfg.PieceSize = int64(quota), int64(pieceSize)
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			d, err := daemon.New(cfg, log)
			if err != nil {
				return err
			}
			defer func() { _ = d.Close() }()
			log.Info("daemon listening", "peers", d.PeerAddr(), "socket", d.SocketPath(), "id", d.PeerID(),
				"scheduler", cfg.Scheduler)
			reg := metrics.NewRegistry()
			reg.MustRegister(daemonCollector(d))
			return runTasks(cmd.Context(), append(metricsTask(metricsAddr, reg, log), task{"daemon", d.Run})...)
		},
	}
	c.addFlags(cmd, "info")
	f := cmd.Flags()
	f.StringVar(&cfg.Scheduler, "scheduler", "", "the scheduler's address, host:port (empty: fetch every piece from the source)")
	f.StringVar(&cfg.Listen, "listen", ":7601", "TCP address other daemons fetch pieces from, host:port")
	f.StringVar(&cfg.Advertise, "advertise", "", "host:port announced to the scheduler (empty: the listen address)")
	f.StringVar(&cfg.DataDir, "data", defaultDataDir(), "directory of the piece store")
	f.StringVar(&cfg.Socket, "socket", defaultSocket(), "Unix socket of the local API (empty: none)")
	f.StringVar(&cfg.Token, "token", "", "secret shared with the scheduler")
	f.Var(&upload, "upload-rate", "cap on the bytes served to other daemons (0: unlimited)")
	f.Var(&download, "download-rate", "cap on the bytes fetched (0: unlimited)")
	f.Var(&quota, "quota", "most bytes the piece store holds; least recently used tasks go first (0: no limit)")
	f.Var(&pieceSize, "piece-size", "piece size (0: chosen from the file size)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "pieces of one task fetched at once (0: 8)")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (empty: off)")
	return cmd
}
