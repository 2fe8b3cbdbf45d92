// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/scheduler"
)

// expectations are the members each file's task still expects: one per
// receiver, less those that failed. Several files with the same content
// are one task.
type expectations struct {
	sched *scheduler.Scheduler
	log   *slog.Logger
	mu    sync.Mutex
	n     map[core.TaskID]int
}

func newExpectations(sched *scheduler.Scheduler, seeds []*Seed, receivers int, log *slog.Logger) *expectations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &expectations{sched: sched, log: log, n: map[core.TaskID]int{}}
	for _, s := range seeds {
		e.n[s.Task] = receivers
	}
	return e
}

// start tells the scheduler what each task expects.
func (e *expectations) start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for task, n := range e.n {
		if err := e.sched.Expect(ctx, task, n); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	return nil
}

// lost lowers task's expectation by the receiver that failed it: the
// members that did join then share the origin among fewer. A receiver
// that joined and failed has left, or will, so it no longer counts
// either way.
func (e *expectations) lost(ctx context.Context, task core.TaskID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n[task] = max(0, e.n[task]-1)
	if err := e.sched.Expect(ctx, task, e.n[task]); err != nil {
		e.log.Debug("push: lowering the expected receivers", "task", task.Short(), "err", err)
	}
}
