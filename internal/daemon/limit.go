// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"sync"
	"time"
)

// A limiter is a token bucket for bytes that is charged a whole piece at a
// time: wait(n) reserves n tokens at once, going into debt if needed, and
// sleeps until the debt is paid. A piece therefore moves in one system call
// after one wait, and the long-run rate is exact. Unlike
// golang.org/x/time/rate, n may exceed the burst (a 16 MiB piece under a
// 1 MiB/s limit waits 16 s rather than failing).
//
// A nil *limiter is unlimited. A limiter is safe for concurrent use.
type limiter struct {
	rate  float64 // bytes per second
	burst float64 // most tokens saved up while idle

	mu     sync.Mutex // guards the following fields
	tokens float64    // may be negative: debt of reservations made
	last   time.Time
}

// newLimiter returns a limiter for rate bytes/s, nil for rate 0. The burst
// is a quarter second of traffic, at least 256 KiB.
func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	b := max(float64(rate)/4, 256<<10)
	return &limiter{rate: float64(rate), burst: b, tokens: b, last: time.Now()}
}

// wait reserves n bytes and sleeps until they may be sent. On cancellation
// the reservation is given back.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil || n <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		l.tokens += float64(n)
		l.mu.Unlock()
		return ctx.Err()
	}
}
