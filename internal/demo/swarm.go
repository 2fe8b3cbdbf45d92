// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/msg"
)

// Swarm is a scheduler and daemons run in-process on loopback, and the
// goroutines that run them: the swarm of the demo and of the stream
// benchmark.
type Swarm struct {
	// Daemons are the swarm's daemons, set by Start.
	Daemons []*daemon.Daemon
	// SchedulerAddr is the scheduler's host:port, set by Start.
	SchedulerAddr string

	log   *slog.Logger
	sched *scheduler.Scheduler
	node  *msg.Node

	wg   sync.WaitGroup
	mu   sync.Mutex // guards errs
	errs []error
}

// NewSwarm returns a swarm whose components log to log.
func NewSwarm(log *slog.Logger) *Swarm { return &Swarm{log: log} }

// Go runs f on a goroutine the swarm waits for in Stop, and records an
// error it returns while the swarm is meant to run.
func (sw *Swarm) Go(ctx context.Context, what string, f func(context.Context) error) {
	sw.wg.Go(func() {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			sw.mu.Lock()
			sw.errs = append(sw.errs, fmt.Errorf("%s: %w", what, err))
			sw.mu.Unlock()
		}
	})
}

// Failed returns the errors of components that stopped early.
func (sw *Swarm) Failed() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return errors.Join(sw.errs...)
}

// Start runs a scheduler and n daemons until ctx is done, daemon i
// configured by config(i) with the scheduler's address set, and waits
// until every daemon is registered with the scheduler, so that none
// starts on its own from the origin.
func (sw *Swarm) Start(ctx context.Context, n int, config func(i int) daemon.Config) error {
	var err error
	if sw.sched, err = scheduler.New(scheduler.Config{}, sw.log.With("component", "scheduler")); err != nil {
		return err
	}
	sw.Go(ctx, "scheduler", sw.sched.Run)
	if sw.node, err = msg.NewNode(msg.Config{Logger: sw.log.With("component", "scheduler-msg")}); err != nil {
		return err
	}
	if err := sw.node.Listen(ctx, "tcp://127.0.0.1:0"); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	sw.Go(ctx, "scheduler", func(ctx context.Context) error { return sw.sched.Serve(ctx, sw.node) })
	sw.SchedulerAddr = strings.TrimPrefix(sw.node.Addr(), "tcp://")

	for i := range n {
		dc := config(i)
		dc.Scheduler = sw.SchedulerAddr
		d, err := daemon.New(dc, sw.log.With("component", "daemon", "peer", i+1))
		if err != nil {
			return fmt.Errorf("peer %d: %w", i+1, err)
		}
		sw.Daemons = append(sw.Daemons, d)
		sw.Go(ctx, "peer "+strconv.Itoa(i+1), d.Run)
	}
	return sw.waitRegistered(ctx)
}

// waitRegistered waits until every daemon is registered with the
// scheduler.
func (sw *Swarm) waitRegistered(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		n := 0
		for _, d := range sw.Daemons {
			if d.Stats().Registered {
				n++
			}
		}
		if n == len(sw.Daemons) {
			return nil
		}
		if err := sw.Failed(); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-deadline:
			return fmt.Errorf("%d of %d daemons registered with the scheduler after 30s", n, len(sw.Daemons))
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Stop cancels the swarm's context with cancel, closes every component
// and waits for their goroutines.
func (sw *Swarm) Stop(cancel context.CancelFunc) {
	cancel()
	for _, d := range sw.Daemons {
		_ = d.Close()
	}
	if sw.node != nil {
		_ = sw.node.Close()
	}
	if sw.sched != nil {
		_ = sw.sched.Close()
	}
	sw.wg.Wait()
}
