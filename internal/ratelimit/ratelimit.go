// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package ratelimit is the token bucket for bytes that pollen's daemons and
// origins pace their transfers with. [Bucket.Wait] reserves a whole piece or
// chunk at once, going into debt if needed, and sleeps until the debt is
// paid: a piece therefore moves in one system call after one wait, and the
// long-run rate is exact. Unlike golang.org/x/time/rate, n may exceed the
// burst (a 16 MiB piece under a 1 MiB/s limit waits 16 s rather than
// failing).
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// A Bucket is a token bucket for bytes. A nil *Bucket is unlimited. A Bucket
// is safe for concurrent use.
type Bucket struct {
	rate  float64 // bytes per second
	burst float64 // most tokens saved up while idle

	mu     sync.Mutex // guards the following fields
	tokens float64    // may be negative: debt of reservations made
	last   time.Time
}

// New returns a bucket for rate bytes/s that saves up at most burst bytes
// while idle, or nil (unlimited) for a rate of 0 or less. It starts full.
func New(rate, burst int64) *Bucket {
	if rate <= 0 {
		return nil
	}
	b := float64(max(burst, 1))
	return &Bucket{rate: float64(rate), burst: b, tokens: b, last: time.Now()}
}

// Wait reserves n bytes and sleeps until they may be sent. On cancellation
// the reservation is given back and ctx's error returned.
func (b *Bucket) Wait(ctx context.Context, n int64) error {
	if b == nil || n <= 0 {
		return ctx.Err()
	}
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	debt := -b.tokens
	b.mu.Unlock()
	if debt <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(debt / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		b.tokens += float64(n)
		b.mu.Unlock()
		return ctx.Err()
	}
}
