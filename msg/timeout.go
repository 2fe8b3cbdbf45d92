// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A timeoutCtx is a context that is done after a timeout. It bounds the
// sends of replies without the allocations of context.WithTimeout: it is
// pooled, and its Done channel and timer are reused as long as the timeout
// never fires (a fired one is left to the garbage collector).
type timeoutCtx struct {
	done     chan struct{}
	timer    *time.Timer
	fired    atomic.Bool
	deadline time.Time
}

var timeoutPool sync.Pool

// newTimeout returns a context done after d; release it when done with it.
func newTimeout(d time.Duration) *timeoutCtx {
	c, _ := timeoutPool.Get().(*timeoutCtx)
	if c == nil {
		c = &timeoutCtx{done: make(chan struct{})}
		c.deadline = time.Now().Add(d)
		c.timer = time.AfterFunc(d, func() {
			c.fired.Store(true)
			close(c.done)
		})
		return c
	}
	c.deadline = time.Now().Add(d)
	c.timer.Reset(d)
	return c
}

// release returns c to the pool unless its timeout fired.
func (c *timeoutCtx) release() {
	if c.timer.Stop() {
		timeoutPool.Put(c)
	}
}

// Deadline implements context.Context.
func (c *timeoutCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context.
func (c *timeoutCtx) Done() <-chan struct{} { return c.done }

// Err implements context.Context.
func (c *timeoutCtx) Err() error {
	if c.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context.
func (c *timeoutCtx) Value(any) any { return nil }
