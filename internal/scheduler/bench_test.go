// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// benchState builds a task of pieces pieces with peers members, each
// holding a random fraction have of the pieces, straight on a state (no
// event loop).
func benchState(b *testing.B, peers, pieces int, have float64) (*state, []*member) {
	b.Helper()
	cfg := Config{Seed: 1, UploadSlots: 4}.withDefaults()
	st := newState(cfg, slog.New(slog.DiscardHandler), &counters{})
	layout := core.Layout{Size: int64(pieces) * 1024, PieceSize: 1024}
	task := core.TaskIDForURL("bench", 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	members := make([]*member, peers)
	for i := range peers {
		id := simPeerID(i)
		if _, err := st.register(&proto.Register{Peer: id, Addr: "10.0.0.1:7601", Upload: uint64(1e6 + rng.IntN(1e7))}); err != nil {
			b.Fatal(err)
		}
		bm := make([]byte, (pieces+7)/8)
		for p := range pieces {
			if rng.Float64() < have {
				proto.BitmapSet(bm, core.PieceIndex(p))
			}
		}
		if _, err := st.join(&proto.Join{Peer: id, Task: task, Layout: layout, Have: bm}); err != nil {
			b.Fatal(err)
		}
		members[i] = st.peers[id].members[task]
	}
	return st, members
}

// BenchmarkSchedule measures one scheduling decision (up to 16 pieces with
// their parents) for 1000 peers and 4096 pieces; the assignments are
// released again so that every iteration sees the same load.
func BenchmarkSchedule(b *testing.B) {
	for _, bc := range []struct {
		name string
		have float64
	}{{"early-5pct", 0.05}, {"mid-50pct", 0.5}, {"late-95pct", 0.95}} {
		b.Run(bc.name, func(b *testing.B) {
			st, members := benchState(b, 1000, 4096, bc.have)
			now := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m := members[i%len(members)]
				i++
				sc := st.schedule(m, 16, now)
				for _, a := range sc.Assignments {
					st.release(m.assigns[a.Index])
				}
				clear(st.timer) // the released assignments' deadlines
				st.timer = st.timer[:0]
			}
		})
	}
}

// BenchmarkRequestPieces measures a RequestPieces round trip through the
// event loop (with the matching PieceFailed to give the pieces back), the
// cost a daemon's request adds on top of the decision.
func BenchmarkRequestPieces(b *testing.B) {
	s, err := New(Config{Seed: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			b.Error(err)
		}
	}()
	const peers, pieces = 1000, 4096
	layout := core.Layout{Size: pieces * 1024, PieceSize: 1024}
	task := core.TaskIDForURL("bench", 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range peers {
		id := simPeerID(i)
		if _, err := s.Register(ctx, &proto.Register{Peer: id, Addr: "10.0.0.1:7601", Upload: 1e7}); err != nil {
			b.Fatal(err)
		}
		bm := make([]byte, pieces/8)
		for p := range pieces {
			if rng.IntN(2) == 0 {
				proto.BitmapSet(bm, core.PieceIndex(p))
			}
		}
		if _, err := s.Join(ctx, &proto.Join{Peer: id, Task: task, Layout: layout, Have: bm}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := simPeerID(i % peers)
		i++
		sc, err := s.RequestPieces(ctx, &proto.RequestPieces{Peer: id, Task: task, Max: 16})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range sc.Assignments {
			parent := core.PeerID{}
			if !a.Source {
				parent = a.Parents[0].Peer
			}
			if err := s.PieceFailed(ctx, &proto.PieceFailed{Peer: id, Task: task, Index: a.Index, Parent: parent, Reason: proto.ReasonLocal}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
