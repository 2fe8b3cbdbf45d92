// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestLimiter checks exact waits at piece granularity under fake time.
func TestLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1 << 20
		l := newLimiter(rate) // burst 256 KiB
		ctx := context.Background()
		start := time.Now()
		// The burst is free; a 4 MiB piece then waits for the rest.
		if err := l.wait(ctx, 4<<20); err != nil {
			t.Fatal(err)
		}
		if got, want := time.Since(start), 3750*time.Millisecond; got != want {
			t.Fatalf("first piece waited %v, want %v", got, want)
		}
		// Back to back pieces run at exactly the rate.
		start = time.Now()
		for range 4 {
			if err := l.wait(ctx, 1<<20); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start), 4*time.Second; got != want {
			t.Fatalf("4 MiB took %v, want %v", got, want)
		}
		// A cancelled wait gives its tokens back.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := l.wait(cctx, 8<<20); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait: %v", err)
		}
		start = time.Now()
		if err := l.wait(ctx, 1<<20); err != nil {
			t.Fatal(err)
		}
		// One second passed during the cancelled wait: 1 MiB of credit,
		// capped at the burst, so the piece waits 0.75 s.
		if got, want := time.Since(start), 750*time.Millisecond; got != want {
			t.Fatalf("after a cancelled wait: %v, want %v", got, want)
		}
		var unlimited *limiter
		if err := unlimited.wait(ctx, 1<<30); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConfig checks defaults and validation.
func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("a config without DataDir validated")
	}
	bad := []Config{
		{DataDir: "d", Listen: "nonsense"},
		{DataDir: "d", UploadRate: -1},
		{DataDir: "d", PieceSize: 32 << 20},
		{DataDir: "d", Concurrency: -1},
		{DataDir: "d", PieceTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	c := Config{DataDir: "d", Concurrency: 2}.withDefaults()
	if c.Listen != defaultListen || c.SourceConcurrency != 2 || c.UploadSlots != defaultUploadSlots || c.StallTimeout != defaultStall {
		t.Fatalf("defaults %+v", c)
	}
}
