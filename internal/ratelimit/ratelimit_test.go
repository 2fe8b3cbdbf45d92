// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package ratelimit

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestBucket checks exact waits at piece granularity under fake time.
func TestBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1 << 20
		l := New(rate, 256<<10)
		ctx := context.Background()
		start := time.Now()
		// The burst is free; a 4 MiB piece then waits for the rest.
		if err := l.Wait(ctx, 4<<20); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), 3750*time.Millisecond; got != want {
			t.Fatalf("first piece waited %v, want %v", got, want)
		}
		// Back to back pieces run at exactly the rate.
		start = time.Now()
		for range 4 {
			if err := l.Wait(ctx, 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start), 4*time.Second; got != want {
			t.Fatalf("4 MiB took %v, want %v", got, want)
		}
		// A cancelled wait gives its tokens back.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := l.Wait(cctx, 8<<20); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait: %v", err)
		}
		start = time.Now()
		if err := l.Wait(ctx, 1<<20); err != nil {
			t.Fatal(err)
		}
		// One second passed during the cancelled wait: 1 MiB of credit,
		// capped at the burst, so the piece waits 0.75 s.
		if got, want := time.Since(start), 750*time.Millisecond; got != want {
			t.Fatalf("after a cancelled wait: %v, want %v", got, want)
		}
		var unlimited *Bucket
		if err := unlimited.Wait(ctx, 1<<30); err != nil {
			t.Fatal(err)
		}
	})
}
