// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package source

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// watchdog cancels an attempt's context with ErrTimeout when it goes
// Timeout without progress. Progress is a response arriving or body bytes
// being read: HTTP.get finds the watchdog in the request's context and
// kicks it for both (see watch).
type watchdog struct {
	timeout time.Duration
	mu      sync.Mutex // guards the following fields
	t       *time.Timer
}

func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc) *watchdog {
	wd := &watchdog{timeout: timeout}
	wd.t = time.AfterFunc(timeout, func() { cancel(ErrTimeout) })
	return wd
}

// kick records progress.
func (wd *watchdog) kick() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.t != nil {
		wd.t.Reset(wd.timeout)
	}
}

func (wd *watchdog) stop() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	wd.t.Stop()
	wd.t = nil
}

type watchdogKey struct{}

func withWatchdog(ctx context.Context, wd *watchdog) context.Context {
	return context.WithValue(ctx, watchdogKey{}, wd)
}

// kickingBody wraps a response body: every read that returns bytes kicks
// the watchdog.
type kickingBody struct {
	io.ReadCloser
	wd *watchdog
}

func (b *kickingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.wd.kick()
	}
	return n, err
}

// watch wraps resp's body so that reading it kicks the watchdog in ctx.
func watch(ctx context.Context, resp *http.Response) {
	if wd, ok := ctx.Value(watchdogKey{}).(*watchdog); ok {
		wd.kick()
		resp.Body = &kickingBody{ReadCloser: resp.Body, wd: wd}
	}
}
