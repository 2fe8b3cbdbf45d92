// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// long is a heartbeat and a longest wait no test here reaches: a parked
// request answered within a test was answered by the event that made work
// assignable, not by a tick or its deadline.
const long = time.Hour

// park sends a waiting RequestPieces for id and returns the channel its
// answer arrives on, after checking that it is parked.
func (h *harness) park(id core.PeerID, max int) <-chan *proto.Schedule {
	h.t.Helper()
	got := make(chan *proto.Schedule, 1)
	before := h.s.Stats().Waiting
	go func() {
		sc, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: id, Task: h.task, Max: uint16(max), WaitMillis: uint32(long / time.Millisecond)})
		if err != nil && !errors.Is(err, ErrClosed) { // closed: the test failed already
			h.t.Error(err)
		}
		got <- sc
	}()
	synctest.Wait()
	if w := h.s.Stats().Waiting; w != before+1 {
		h.t.Fatalf("%d requests parked, want %d", w, before+1)
	}
	return got
}

// answered returns the parked request's answer if it has arrived by the
// time every goroutine of the bubble is blocked, else nil.
func answered(got <-chan *proto.Schedule) *proto.Schedule {
	synctest.Wait()
	select {
	case sc := <-got:
		return sc
	default:
		return nil
	}
}

// TestWakeAtOnce checks that a parked RequestPieces is answered by the
// event that makes something assignable to it, with a heartbeat and a
// wait far longer than the test: a piece done elsewhere, a seed joining,
// a source slot freed by a failure or a timeout, a member leaving (its
// source share goes to the others), and a parent's upload slots growing
// because a slower peer registered or a faster one left.
func TestWakeAtOnce(t *testing.T) {
	cfg := Config{HeartbeatInterval: long, MaxWait: long, AssignTimeout: 10 * long}
	cases := []struct {
		name string
		cfg  func(*Config)
		run  func(h *harness) // parks a request and makes work appear
	}{
		{"piece done by another peer", func(c *Config) { c.OriginConcurrency = 1 }, func(h *harness) {
			a, b := h.peer(0), h.peer(1)
			_, src := pieces(h.request(a, 1))
			got := h.park(b, 1)
			h.done(a, src...)
			h.expectAssigned(got)
		}},
		{"seed joins", func(c *Config) { c.OriginConcurrency = 1 }, func(h *harness) {
			a, b := h.peer(0), h.peer(1)
			h.request(a, 1)
			got := h.park(b, 1)
			h.peer(2, 0, 1, 2, 3, 4, 5, 6, 7)
			h.expectAssigned(got)
		}},
		{"source fetch failed", func(c *Config) { c.OriginConcurrency = 1 }, func(h *harness) {
			a, b := h.peer(0), h.peer(1)
			_, src := pieces(h.request(a, 1))
			got := h.park(b, 1)
			h.failed(a, src[0], core.PeerID{}, proto.ReasonLocal)
			h.expectAssigned(got)
		}},
		{"member leaves", func(c *Config) { c.OriginConcurrency = 2 }, func(h *harness) {
			a, b := h.peer(0), h.peer(1)
			h.request(a, 1) // a's share of the two source slots
			if _, src := pieces(h.request(b, 1)); len(src) != 1 {
				h.t.Fatalf("b got no source piece")
			}
			got := h.park(b, 1) // b's share is used up
			if err := h.s.Leave(h.ctx, &proto.Leave{Peer: a, Task: h.task}); err != nil {
				h.t.Fatal(err)
			}
			h.expectAssigned(got)
		}},
		{"assignment timed out", func(c *Config) { c.OriginConcurrency = 1; c.AssignTimeout = time.Minute }, func(h *harness) {
			a, b := h.peer(0), h.peer(1)
			h.request(a, 1)
			got := h.park(b, 1)
			time.Sleep(time.Minute)
			h.expectAssigned(got)
		}},
		{"slots grow when a slower peer registers", func(c *Config) { c.UploadSlots = 2; c.OriginConcurrency = 1 }, func(h *harness) {
			// The seed declares 4000 B/s; alone, the mean, so 2 slots.
			seed := simPeerID(0)
			if _, err := h.s.Register(h.ctx, &proto.Register{Peer: seed, Addr: "seed", Upload: 4000}); err != nil {
				h.t.Fatal(err)
			}
			all := make([]byte, 1)
			for i := range 8 {
				proto.BitmapSet(all, core.PieceIndex(i))
			}
			if _, err := h.s.Join(h.ctx, &proto.Join{Peer: seed, Task: h.task, Layout: h.layout, Have: all}); err != nil {
				h.t.Fatal(err)
			}
			a, b := h.peer(1), h.peer(2) // 1000 B/s each
			h.request(a, 2)              // both seed slots busy (the source slot too)
			got := h.park(b, 1)
			// A peer of 1000 B/s more lowers the mean to 1750: the seed
			// now stands for 4000/875 ≈ 5 slots.
			if _, err := h.s.Register(h.ctx, &proto.Register{Peer: simPeerID(3), Addr: "slow", Upload: 1000}); err != nil {
				h.t.Fatal(err)
			}
			h.expectAssigned(got)
		}},
		{"slots grow when a faster peer leaves", func(c *Config) { c.UploadSlots = 2 }, func(h *harness) {
			register := func(i int, upload uint64) core.PeerID {
				id := simPeerID(i)
				if _, err := h.s.Register(h.ctx, &proto.Register{Peer: id, Addr: "p", Upload: upload}); err != nil {
					h.t.Fatal(err)
				}
				return id
			}
			join := func(id core.PeerID, have []byte) {
				if _, err := h.s.Join(h.ctx, &proto.Join{Peer: id, Task: h.task, Layout: h.layout, Have: have}); err != nil {
					h.t.Fatal(err)
				}
			}
			seed := register(0, 1000)
			join(seed, []byte{0xff})
			fast := register(9, 7000) // the mean is 4000: the seed stands for 1 slot
			if err := h.s.Heartbeat(h.ctx, &proto.Heartbeat{Peer: seed}); err != nil {
				h.t.Fatal(err)
			}
			a, b := register(1, 0), register(2, 0) // no declared rate: the mean stays
			join(a, nil)
			join(b, nil)
			if p, src := pieces(h.request(a, 2)); len(p) != 1 || len(src) != 0 {
				h.t.Fatalf("a got %v from the seed and %v from the source, want one from the seed", p, src)
			}
			got := h.park(b, 1) // the seed's one slot is busy; it holds every piece
			if err := h.s.Leave(h.ctx, &proto.Leave{Peer: fast, All: true}); err != nil {
				h.t.Fatal(err)
			}
			h.expectAssigned(got) // the mean is 1000 again: the seed has 2 slots
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := cfg
				c.cfg(&cfg)
				h := newHarness(t, cfg)
				c.run(h)
			})
		})
	}
}

// expectAssigned fails unless the parked request has been answered with
// at least one piece.
func (h *harness) expectAssigned(got <-chan *proto.Schedule) {
	h.t.Helper()
	sc := answered(got)
	if sc == nil {
		h.t.Fatalf("the parked request is still waiting (%d parked)", h.s.Stats().Waiting)
	}
	if len(sc.Assignments) == 0 {
		h.t.Fatalf("answered with %+v, want a piece", sc)
	}
}
