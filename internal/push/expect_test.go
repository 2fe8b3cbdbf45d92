// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"context"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/scheduler"
)

// TestExpectationsShareOrigin: the pusher's scheduler hears how many
// receivers will join before the first does, so the first receiver gets
// its share of the origin's slots, not all of them; each receiver lost
// lowers the expectation and the share grows.
func TestExpectationsShareOrigin(t *testing.T) {
	ctx := t.Context()
	sched, err := scheduler.New(scheduler.Config{OriginConcurrency: 8, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sched.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })

	layout := core.Layout{Size: 16 << 10, PieceSize: 1 << 10}
	seed := &Seed{Task: core.TaskIDForURL("push://expect", layout.PieceSize), Layout: layout}
	e := newExpectations(sched, []*Seed{seed, seed}, 4, nil) // the same content twice: one task
	if err := e.start(ctx); err != nil {
		t.Fatal(err)
	}
	peer := core.PeerID{1}
	if _, err := sched.Register(ctx, &proto.Register{Peer: peer, Addr: "r1", Upload: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Join(ctx, &proto.Join{Peer: peer, Task: seed.Task, Layout: layout}); err != nil {
		t.Fatal(err)
	}
	ask := func() int {
		t.Helper()
		sc, err := sched.RequestPieces(ctx, &proto.RequestPieces{Peer: peer, Task: seed.Task, Max: 16})
		if err != nil {
			t.Fatal(err)
		}
		return len(sc.Assignments)
	}
	if n := ask(); n != 2 { // ceil(8 origin slots / 4 receivers)
		t.Fatalf("first receiver of 4 got %d source pieces, want 2", n)
	}
	e.lost(ctx, seed.Task)
	e.lost(ctx, seed.Task)  // 2 receivers left
	if n := ask(); n != 2 { // ceil(8 / 2) less the 2 it runs
		t.Fatalf("with 2 receivers left: %d more source pieces, want 2", n)
	}
}

// TestPushSchedulerConfig: a push's scheduler requires the push token and
// lets OriginConcurrency (8) pieces come from the pusher at once unless
// told otherwise, not the scheduler's 16, which at two receivers filled
// every download slot of both with source fetches.
func TestPushSchedulerConfig(t *testing.T) {
	c := PusherConfig{Token: "tok", Scheduler: scheduler.Config{Token: "other", UploadSlots: 4}}
	got := c.schedulerConfig()
	if got.Token != "tok" || got.OriginConcurrency != 8 || got.UploadSlots != 4 {
		t.Errorf("scheduler config %+v, want token tok, OriginConcurrency 8, UploadSlots 4", got)
	}
	c.Scheduler.OriginConcurrency = 16
	if got := c.schedulerConfig(); got.OriginConcurrency != 16 {
		t.Errorf("OriginConcurrency %d, want the 16 asked for", got.OriginConcurrency)
	}
}
