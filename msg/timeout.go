// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A timeoutCtx is a context that is done a timeout after its first Done
// call. It bounds the sends of replies and control frames without the
// allocations of context.WithTimeout, and without a timer for the sends
// that never wait: wire asks for Done only when a send has to wait (for a
// connection, or behind another writer), so a reply written at once costs
// no timer and no clock reading. It is pooled; its Done channel and timer
// are reused as long as the timeout never fires (a fired one is left to
// the garbage collector).
//
// Its timeout runs from the first Done, not from newTimeout: the time
// before is the sender's own work, not a wait. It advertises no deadline
// (Deadline reports none): the deadline would be known only from that
// first Done, and a context's Deadline must not change.
type timeoutCtx struct {
	d     time.Duration
	done  chan struct{}
	fired atomic.Bool

	mu    sync.Mutex // guards the following
	armed bool       // Done was called since newTimeout
	timer *time.Timer
}

var timeoutPool sync.Pool

// newTimeout returns a context done d after its first Done call; release
// it when done with it.
func newTimeout(d time.Duration) *timeoutCtx {
	c, _ := timeoutPool.Get().(*timeoutCtx)
	if c == nil {
		c = &timeoutCtx{done: make(chan struct{})}
	}
	c.d = d
	return c
}

// release returns c to the pool unless its timeout fired (or is firing).
func (c *timeoutCtx) release() {
	if c.disarm() {
		timeoutPool.Put(c)
	}
}

// disarm stops c's timer, if Done started it, and reports whether c may
// be used again: its timeout did not fire and will not.
func (c *timeoutCtx) disarm() bool {
	c.mu.Lock()
	armed := c.armed
	c.armed = false
	c.mu.Unlock()
	return !armed || c.timer.Stop()
}

// Deadline implements context.Context: none is advertised.
func (c *timeoutCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context. The first call starts the timeout.
func (c *timeoutCtx) Done() <-chan struct{} {
	c.mu.Lock()
	if !c.armed {
		c.armed = true
		if c.timer == nil {
			c.timer = time.AfterFunc(c.d, c.fire)
		} else {
			c.timer.Reset(c.d)
		}
	}
	c.mu.Unlock()
	return c.done
}

func (c *timeoutCtx) fire() {
	c.fired.Store(true)
	close(c.done)
}

// Err implements context.Context.
func (c *timeoutCtx) Err() error {
	if c.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context.
func (c *timeoutCtx) Value(any) any { return nil }
