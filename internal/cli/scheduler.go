// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/internal/metrics"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/msg"
)

func newSchedulerCmd() *cobra.Command {
	var (
		c           common
		listen      string
		metricsAddr string
		cfg         scheduler.Config
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler that tells daemons which peers to fetch each piece from",
		Long: `scheduler tracks tasks, which daemon holds which piece and each daemon's
upload load, and answers daemons (msg over TCP on --listen) with the parents
to fetch each piece from: rarest first, spread over parents with free upload
capacity, back to the source only when no peer has the piece. It runs until
SIGINT or SIGTERM and then shuts down gracefully.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := c.setup(cmd, "scheduler")
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			s, err := scheduler.New(cfg, log)
			if err != nil {
				return err
			}
			defer func() { _ = s.Close() }()
			node, err := msg.NewNode(msg.Config{Logger: log.With("component", "msg")})
			if err != nil {
				return err
			}
			defer func() { _ = node.Close() }()
			ctx := cmd.Context()
			if err := node.Listen(ctx, "tcp://"+listen); err != nil {
				return fmt.Errorf("scheduler: listen on %s: %w", listen, err)
			}
			log.Info("scheduler listening", "addr", node.Addr())
			reg := metrics.NewRegistry()
			reg.MustRegister(schedulerCollector(s), msgCollector("scheduler", node))
			return runTasks(ctx, append(metricsTask(metricsAddr, reg, log),
				task{"scheduler", s.Run},
				task{"scheduler: serve", func(ctx context.Context) error { return s.Serve(ctx, node) }},
			)...)
		},
	}
	c.addFlags(cmd, "info")
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":7600", "TCP address daemons reach the scheduler at, host:port")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (empty: off)")
	f.StringVar(&cfg.Token, "token", "", "secret daemons must present (empty: accept every daemon)")
	f.IntVar(&cfg.OriginConcurrency, "origin-concurrency", 0, "most source fetches of one task at once (0: 16)")
	f.IntVar(&cfg.UploadSlots, "upload-slots", 0, "pieces a peer of average upload rate is parent for at once (0: 8)")
	f.IntVar(&cfg.ParentsPerPiece, "parents", 0, "parents listed per piece, best first (0: 3)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 0, "how often daemons send a heartbeat (0: 10s)")
	f.DurationVar(&cfg.AssignTimeout, "assign-timeout", 0, "how long an assignment may stay unreported (0: 60s)")
	return cmd
}
