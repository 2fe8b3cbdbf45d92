// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// harness runs a Scheduler inside a synctest bubble with one task of
// 8 pieces.
type harness struct {
	t      *testing.T
	s      *Scheduler
	ctx    context.Context
	task   core.TaskID
	layout core.Layout
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		checkState(t, s)
		_ = s.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Run = %v, want ErrClosed", err)
		}
	})
	return &harness{
		t: t, s: s, ctx: context.Background(),
		task:   core.TaskIDForURL("https://example.com/f", 1024),
		layout: core.Layout{Size: 8 * 1024, PieceSize: 1024},
	}
}

// peer registers peer i and joins it to the task holding the given pieces.
func (h *harness) peer(i int, have ...int) core.PeerID {
	h.t.Helper()
	id := simPeerID(i)
	if _, err := h.s.Register(h.ctx, &proto.Register{Peer: id, Addr: "peer", Upload: 1000}); err != nil {
		h.t.Fatal(err)
	}
	var bm []byte
	if len(have) > 0 {
		bm = make([]byte, (h.layout.Pieces()+7)/8)
		for _, p := range have {
			proto.BitmapSet(bm, core.PieceIndex(p))
		}
	}
	if _, err := h.s.Join(h.ctx, &proto.Join{Peer: id, Task: h.task, Layout: h.layout, Have: bm}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) request(id core.PeerID, max int) *proto.Schedule {
	h.t.Helper()
	sc, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: id, Task: h.task, Max: uint16(max)})
	if err != nil {
		h.t.Fatal(err)
	}
	return sc
}

func (h *harness) done(id core.PeerID, pieces ...int) {
	h.t.Helper()
	m := &proto.PieceDone{Peer: id, Task: h.task}
	for _, p := range pieces {
		m.Pieces = append(m.Pieces, proto.DonePiece{Index: core.PieceIndex(p), Digest: core.Digest{byte(p + 1)}})
	}
	if err := h.s.PieceDone(h.ctx, m); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) failed(id core.PeerID, piece int, parent core.PeerID, r proto.Reason) {
	h.t.Helper()
	if err := h.s.PieceFailed(h.ctx, &proto.PieceFailed{Peer: id, Task: h.task, Index: core.PieceIndex(piece), Parent: parent, Reason: r}); err != nil {
		h.t.Fatal(err)
	}
}

// pieces lists a schedule's piece indices; source pieces are negated minus one.
func pieces(sc *proto.Schedule) (peer, source []int) {
	for _, a := range sc.Assignments {
		if a.Source {
			source = append(source, int(a.Index))
		} else {
			peer = append(peer, int(a.Index))
		}
	}
	return peer, source
}

func TestSourceOnceThenPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 8})
		a, b := h.peer(0), h.peer(1)
		sa := h.request(a, 8)
		if _, src := pieces(sa); len(src) != 4 { // its share: 8 source slots over 2 members
			t.Fatalf("first request: %+v, want 4 source pieces", sa.Assignments)
		}
		sb := h.request(b, 8)
		_, srcB := pieces(sb)
		if len(srcB) != 4 {
			t.Fatalf("second request: %+v, want the other 4 source pieces", sb.Assignments)
		}
		// Everything is being fetched: a must wait, not go to the source again.
		if sc := h.request(a, 8); sc.State != proto.StateWait || sc.RetryMillis != 1000 {
			t.Fatalf("third request: %+v, want wait", sc)
		}
		_, srcA := pieces(sa)
		h.done(a, srcA...)
		sc := h.request(b, 8)
		peerPieces, src := pieces(sc)
		if len(src) != 0 || len(peerPieces) != 4 {
			t.Fatalf("after a finished: %+v, want a's 4 pieces from a", sc.Assignments)
		}
		for _, as := range sc.Assignments {
			if as.Parents[0].Peer != a || as.Digest != (core.Digest{byte(as.Index + 1)}) {
				t.Errorf("piece %d: parents %v digest %v, want a and the reported digest", as.Index, as.Parents, as.Digest)
			}
		}
		if st := h.s.Stats(); st.AssignedFromSource != 8 || st.AssignedFromPeers != 4 {
			t.Errorf("stats %+v, want 8 from source and 4 from peers", st)
		}
	})
}

// TestRequestReportsDone checks that pieces reported in a RequestPieces
// count as a PieceDone would, before the request is served: the requester's
// source slot is free again for the schedule it gets back, and the others
// get the piece from it with its digest.
func TestRequestReportsDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 1})
		a := h.peer(0)
		_, src := pieces(h.request(a, 1))
		if len(src) != 1 {
			t.Fatalf("first request: source %v, want one piece", src)
		}
		b := h.peer(1)
		dg := core.Digest{0xd1}
		req := &proto.RequestPieces{Peer: a, Task: h.task, Max: 1, Done: []proto.DonePiece{{Index: core.PieceIndex(src[0]), Digest: dg}}}
		sc, err := h.s.RequestPieces(h.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, next := pieces(sc); len(next) != 1 || next[0] == src[0] {
			t.Fatalf("request reporting piece %d: %+v, want another source piece (the only slot is free again)", src[0], sc)
		}
		sb := h.request(b, 8)
		var got bool
		for _, as := range sb.Assignments {
			if int(as.Index) == src[0] {
				got = true
				if as.Source || as.Parents[0].Peer != a || as.Digest != dg {
					t.Errorf("piece %d for b: %+v, want it from a with digest %v", as.Index, as, dg)
				}
			}
		}
		if !got {
			t.Errorf("b's schedule %+v does not offer piece %d", sb.Assignments, src[0])
		}
		if st := h.s.Stats(); st.PiecesDone != 1 {
			t.Errorf("stats %+v, want 1 piece done", st)
		}
		// A done piece outside the task fails the whole request.
		_, err = h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: a, Task: h.task, Max: 1, Done: []proto.DonePiece{{Index: 99}}})
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("request reporting piece 99 of 8: %v, want ErrBadRequest", err)
		}
	})
}

func TestOriginConcurrencyBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 2})
		var total int
		for i := range 6 {
			_, src := pieces(h.request(h.peer(i), 4))
			total += len(src)
		}
		if total != 2 {
			t.Fatalf("%d source fetches running, want 2", total)
		}
	})
}

func TestRarestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 8})
		h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		h.peer(1, 0, 1, 2, 3, 4, 5, 6)
		h.peer(2, 0, 1, 2, 3, 4, 5)
		h.peer(3, 0, 1, 2, 3, 4)
		r := h.peer(4)
		for _, want := range []int{7, 6, 5} {
			sc := h.request(r, 1)
			if p, _ := pieces(sc); len(p) != 1 || p[0] != want {
				t.Fatalf("got %+v, want piece %d (the rarest left)", sc.Assignments, want)
			}
		}
	})
}

func TestParentsNeedFreeSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 1})
		s := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		r1, r2 := h.peer(1), h.peer(2)
		sc := h.request(r1, 4)
		if len(sc.Assignments) != 1 || sc.Assignments[0].Parents[0].Peer != s {
			t.Fatalf("r1: %+v, want one piece from the seed's only slot", sc.Assignments)
		}
		if sc := h.request(r2, 4); sc.State != proto.StateWait {
			t.Fatalf("r2: %+v, want wait: the only parent is busy", sc)
		}
		h.done(r1, int(sc.Assignments[0].Index))
		sc2 := h.request(r2, 4)
		if len(sc2.Assignments) != 2 {
			t.Fatalf("r2 after r1's piece: %+v, want one piece from each free parent", sc2.Assignments)
		}
	})
}

func TestParentsSpreadByFreeCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 2, ParentsPerPiece: 2})
		a := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		b := h.peer(1, 0, 1, 2, 3, 4, 5, 6, 7)
		sc := h.request(h.peer(2), 4)
		first := map[core.PeerID]int{}
		for _, as := range sc.Assignments {
			first[as.Parents[0].Peer]++
			if len(as.Parents) != 2 && len(first) < 2 {
				t.Errorf("piece %d: %d parents, want 2 while both have slots", as.Index, len(as.Parents))
			}
		}
		if first[a] != 2 || first[b] != 2 {
			t.Fatalf("first parents %v, want 2 pieces from each seed", first)
		}
	})
}

func TestCorruptParentExcluded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{ParentsPerPiece: 1})
		bad := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		h.peer(1, 0, 1, 2, 3, 4, 5, 6, 7) // a good seed
		r := h.peer(2)
		for {
			sc := h.request(r, 1)
			if sc.Assignments[0].Parents[0].Peer == bad {
				h.failed(r, int(sc.Assignments[0].Index), bad, proto.ReasonCorrupt)
				break
			}
			h.done(r, int(sc.Assignments[0].Index))
		}
		other := h.peer(3)
		for range 4 {
			for _, sc := range []*proto.Schedule{h.request(r, 1), h.request(other, 1)} {
				for _, as := range sc.Assignments {
					if as.Parents[0].Peer == bad {
						t.Fatalf("piece %d offered from %v after it served a corrupt piece", as.Index, as.Parents[0].Peer)
					}
				}
			}
		}
		if st := h.s.Stats(); st.Corrupt != 1 || st.Failures != 1 {
			t.Errorf("stats %+v, want 1 corrupt, 1 failure", st)
		}
	})
}

func TestAllHoldersFailedFallsBackToSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		seed := h.peer(0, 3)
		r := h.peer(1, 0, 1, 2, 4, 5, 6, 7)
		sc := h.request(r, 1)
		if p, _ := pieces(sc); len(p) != 1 || p[0] != 3 {
			t.Fatalf("got %+v, want piece 3 from the seed", sc.Assignments)
		}
		h.failed(r, 3, seed, proto.ReasonUnreachable)
		sc = h.request(r, 1)
		if _, src := pieces(sc); len(src) != 1 || src[0] != 3 {
			t.Fatalf("got %+v, want piece 3 from the source: its only holder failed", sc.Assignments)
		}
	})
}

// TestAssignmentTimeout checks that an unreported assignment is taken back
// exactly AssignTimeout after it was made, and its parent slot reused.
func TestAssignmentTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 1, AssignTimeout: 10 * time.Second, ParentsPerPiece: 1})
		seed := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		r1, r2 := h.peer(1), h.peer(2)
		if sc := h.request(r1, 1); len(sc.Assignments) != 1 {
			t.Fatalf("r1: %+v", sc)
		}
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		if st := h.s.Stats(); st.Timeouts != 0 {
			t.Fatalf("timed out before AssignTimeout: %+v", st)
		}
		if err := h.s.Heartbeat(h.ctx, &proto.Heartbeat{Peer: seed}); err != nil {
			t.Fatal(err)
		}
		if sc := h.request(r2, 1); sc.State != proto.StateWait {
			t.Fatalf("r2 before the timeout: %+v, want wait", sc)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := h.s.Stats(); st.Timeouts != 1 {
			t.Fatalf("stats %+v, want 1 timeout at exactly AssignTimeout", st)
		}
		if sc := h.request(r2, 1); len(sc.Assignments) != 1 || sc.Assignments[0].Parents[0].Peer != seed {
			t.Fatalf("r2 after the timeout: %+v, want the freed slot", sc)
		}
	})
}

// TestPeerTimeout checks that a silent peer is dropped exactly PeerTimeout
// after it was last heard from.
func TestPeerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{HeartbeatInterval: time.Second, PeerTimeout: 3 * time.Second})
		id := h.peer(0)
		time.Sleep(2 * time.Second)
		if err := h.s.Heartbeat(h.ctx, &proto.Heartbeat{Peer: id}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Second - time.Nanosecond)
		synctest.Wait()
		if st := h.s.Stats(); st.Peers != 1 {
			t.Fatalf("dropped early: %+v", st)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if st := h.s.Stats(); st.Peers != 0 || st.PeersExpired != 1 || st.Tasks != 0 {
			t.Fatalf("stats %+v, want the peer and its task gone", st)
		}
		err := h.s.Heartbeat(h.ctx, &proto.Heartbeat{Peer: id})
		if !errors.Is(err, ErrUnknownPeer) {
			t.Fatalf("heartbeat after expiry: %v, want ErrUnknownPeer", err)
		}
	})
}

// TestLongPoll checks that a waiting RequestPieces is answered as soon as
// work appears, and with StateWait exactly when its wait runs out.
func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 1, ParentsPerPiece: 1})
		h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		r1, r2 := h.peer(1), h.peer(2)
		sc1 := h.request(r1, 1)
		start := time.Now()
		got := make(chan *proto.Schedule)
		go func() {
			sc, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: r2, Task: h.task, Max: 1, WaitMillis: 5000})
			if err != nil {
				t.Error(err)
			}
			got <- sc
		}()
		synctest.Wait()
		if st := h.s.Stats(); st.Waiting != 1 {
			t.Fatalf("stats %+v, want one parked request", st)
		}
		time.Sleep(time.Second)
		h.done(r1, int(sc1.Assignments[0].Index))
		sc := <-got
		if len(sc.Assignments) != 1 || time.Since(start) != time.Second {
			t.Fatalf("after %v: %+v, want one piece at 1s", time.Since(start), sc)
		}
		// The seed's only slot is busy again and r2 holds nothing yet:
		// r1's next long poll runs out.
		start = time.Now()
		sc, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: r1, Task: h.task, Max: 1, WaitMillis: 5000})
		if err != nil || sc.State != proto.StateWait || time.Since(start) != 5*time.Second {
			t.Fatalf("after %v: %+v, %v; want StateWait at 5s", time.Since(start), sc, err)
		}
	})
}

func TestLongPollCallerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 1, ParentsPerPiece: 1})
		h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		r1, r2 := h.peer(1), h.peer(2)
		sc1 := h.request(r1, 1)
		ctx, cancel := context.WithTimeout(h.ctx, time.Second)
		defer cancel()
		_, err := h.s.RequestPieces(ctx, &proto.RequestPieces{Peer: r2, Task: h.task, Max: 1, WaitMillis: 5000})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		// The parked request must not take the slot that frees now.
		h.done(r1, int(sc1.Assignments[0].Index))
		if sc := h.request(r1, 1); len(sc.Assignments) != 1 {
			t.Fatalf("slot went to a caller that left: %+v", sc)
		}
		if st := h.s.Stats(); st.Waiting != 0 {
			t.Fatalf("stats %+v, want no parked request", st)
		}
	})
}

func TestPeerGoneReschedules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		seed := h.peer(0, 5)
		r := h.peer(1, 0, 1, 2, 3, 4, 6, 7)
		if sc := h.request(r, 1); len(sc.Assignments) != 1 || sc.Assignments[0].Source {
			t.Fatalf("%+v, want piece 5 from the seed", sc)
		}
		if err := h.s.PeerGone(h.ctx, seed); err != nil {
			t.Fatal(err)
		}
		sc := h.request(r, 1)
		if _, src := pieces(sc); len(src) != 1 || src[0] != 5 {
			t.Fatalf("%+v, want piece 5 from the source now that its only holder is gone", sc)
		}
		if st := h.s.Stats(); st.Peers != 1 {
			t.Errorf("stats %+v", st)
		}
		if err := h.s.PeerGone(h.ctx, seed); err != nil {
			t.Errorf("PeerGone of an unknown peer: %v", err)
		}
	})
}

// TestStreamWindow checks the S2 hook: only pieces in [una, una+wnd) are
// offered, and una advances on acknowledged pieces (not on eviction).
func TestStreamWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{UploadSlots: 8})
		seed := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		r := simPeerID(1)
		if _, err := h.s.Register(h.ctx, &proto.Register{Peer: r}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.Join(h.ctx, &proto.Join{Peer: r, Task: h.task, Layout: h.layout, Window: 2}); err != nil {
			t.Fatal(err)
		}
		want := func(ps ...int) {
			t.Helper()
			got, _ := pieces(h.request(r, 8))
			if len(got) != len(ps) {
				t.Fatalf("got pieces %v, want %v", got, ps)
			}
			for i := range ps {
				if got[i] != ps[i] {
					t.Fatalf("got pieces %v, want %v", got, ps)
				}
			}
		}
		want(0, 1)
		h.done(r, 1)
		want() // una is still 0: nothing new fits the window
		h.done(r, 0)
		want(2, 3)
		// A piece the only holder evicted is no longer offered from it.
		if err := h.s.Evicted(h.ctx, &proto.Evicted{Peer: seed, Task: h.task, Indices: []uint32{4}}); err != nil {
			t.Fatal(err)
		}
		// Reported again, or for a piece it never held: nothing to drop.
		if err := h.s.Evicted(h.ctx, &proto.Evicted{Peer: seed, Task: h.task, Indices: []uint32{4}}); err != nil {
			t.Fatal(err)
		}
		if got := h.s.Stats().Evicted; got != 1 {
			t.Fatalf("Stats().Evicted = %d, want 1", got)
		}
		if err := h.s.Evicted(h.ctx, &proto.Evicted{Peer: seed, Task: h.task, Indices: []uint32{1 << 20}}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("evicting a piece past the task: %v, want ErrBadRequest", err)
		}
		h.done(r, 2, 3)
		sc := h.request(r, 8)
		if p, src := pieces(sc); len(p) != 1 || p[0] != 5 || len(src) != 1 || src[0] != 4 {
			t.Fatalf("%+v, want 4 from the source and 5 from the seed", sc.Assignments)
		}
	})
}

func TestLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		a := h.peer(0, 0)
		b := h.peer(1)
		if err := h.s.Leave(h.ctx, &proto.Leave{Peer: a, Task: h.task}); err != nil {
			t.Fatal(err)
		}
		if sc := h.request(b, 1); len(sc.Assignments) != 1 || !sc.Assignments[0].Source {
			t.Fatalf("%+v, want a source piece: the only holder left", sc)
		}
		if _, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: a, Task: h.task, Max: 1}); !errors.Is(err, ErrUnknownTask) {
			t.Fatalf("request after leaving: %v, want ErrUnknownTask", err)
		}
		if err := h.s.Leave(h.ctx, &proto.Leave{Peer: b, All: true}); err != nil {
			t.Fatal(err)
		}
		if st := h.s.Stats(); st.Peers != 1 || st.Tasks != 0 {
			t.Fatalf("stats %+v, want a registered and no task", st)
		}
	})
}

func TestJoinAndRegisterErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{Token: "secret"})
		id := simPeerID(0)
		if _, err := h.s.Register(h.ctx, &proto.Register{Peer: id, Token: "wrong"}); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("bad token: %v", err)
		}
		if _, err := h.s.Join(h.ctx, &proto.Join{Peer: id, Task: h.task, Layout: h.layout}); !errors.Is(err, ErrUnknownPeer) {
			t.Fatalf("join unregistered: %v", err)
		}
		if _, err := h.s.Register(h.ctx, &proto.Register{Peer: id, Token: "secret"}); err != nil {
			t.Fatal(err)
		}
		info, err := h.s.Join(h.ctx, &proto.Join{Peer: id, Task: h.task, Layout: h.layout, Have: []byte{0xff}})
		if err != nil || info.Peers != 1 || info.Seeds != 1 {
			t.Fatalf("join: %+v, %v", info, err)
		}
		other := h.layout
		other.PieceSize *= 2
		if _, err := h.s.Join(h.ctx, &proto.Join{Peer: id, Task: h.task, Layout: other}); !errors.Is(err, ErrTaskMismatch) {
			t.Fatalf("join with another layout: %v", err)
		}
		if sc := h.request(id, 1); sc.State != proto.StateDone {
			t.Fatalf("seed request: %+v, want StateDone", sc)
		}
		if err := h.s.PieceDone(h.ctx, &proto.PieceDone{Peer: id, Task: h.task, Pieces: []proto.DonePiece{{Index: 99}}}); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("piece out of range: %v", err)
		}
		// Registering again replaces the peer and forgets its tasks.
		if _, err := h.s.Register(h.ctx, &proto.Register{Peer: id, Token: "secret"}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.RequestPieces(h.ctx, &proto.RequestPieces{Peer: id, Task: h.task, Max: 1}); !errors.Is(err, ErrUnknownTask) {
			t.Fatalf("after re-register: %v, want ErrUnknownTask", err)
		}
	})
}

func TestHandle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{})
		id := simPeerID(0)
		tests := []struct {
			req  proto.Message
			want proto.Type
			code proto.ErrorCode
		}{
			{&proto.Heartbeat{Peer: id}, proto.TypeError, proto.CodeUnknownPeer},
			{&proto.Register{Peer: id, Addr: "a:1"}, proto.TypeRegistered, 0},
			{&proto.RequestPieces{Peer: id, Task: h.task, Max: 1}, proto.TypeError, proto.CodeUnknownTask},
			{&proto.Join{Peer: id, Task: h.task, Layout: h.layout}, proto.TypeTaskInfo, 0},
			{&proto.RequestPieces{Peer: id, Task: h.task, Max: 1}, proto.TypeSchedule, 0},
			{&proto.PieceFailed{Peer: id, Task: h.task, Index: 0, Reason: proto.ReasonUnreachable}, proto.TypeAck, 0},
			{&proto.Heartbeat{Peer: id}, proto.TypeAck, 0},
			{&proto.Ack{}, proto.TypeError, proto.CodeBadRequest},
			{&proto.Leave{Peer: id, All: true}, proto.TypeAck, 0},
		}
		for _, tt := range tests {
			reply := h.s.Handle(h.ctx, tt.req)
			if reply.Type() != tt.want {
				t.Fatalf("%v: reply %+v, want %v", tt.req.Type(), reply, tt.want)
			}
			if e, ok := reply.(*proto.Error); ok && e.Code != tt.code {
				t.Fatalf("%v: code %d (%s), want %d", tt.req.Type(), e.Code, e.Text, tt.code)
			}
			if _, err := reply.Append(nil); err != nil {
				t.Fatalf("%v: reply does not encode: %v", tt.req.Type(), err)
			}
		}
	})
}

func TestLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()
		if err := s.Run(ctx); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v", err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after cancel: %v", err)
		}
		if _, err := s.Register(context.Background(), &proto.Register{Peer: simPeerID(0)}); !errors.Is(err, ErrClosed) {
			t.Fatalf("call after the loop stopped: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		// Close without Run: calls fail instead of hanging.
		s2, _ := New(Config{}, nil)
		_ = s2.Close()
		if err := s2.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Run after Close: %v", err)
		}
		if err := s2.Heartbeat(context.Background(), &proto.Heartbeat{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("call after Close: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	bad := []Config{
		{ParentsPerPiece: proto.MaxParents + 1},
		{UploadSlots: -1},
		{AssignTimeout: -time.Second},
		{HeartbeatInterval: 10 * time.Second, PeerTimeout: time.Second},
		{MaxPending: proto.MaxBatch + 1},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: Validate = nil", c)
		}
		if _, err := New(c, nil); err == nil {
			t.Errorf("%+v: New succeeded", c)
		}
	}
	if d := (Config{}).withDefaults(); d.UploadSlots != 8 || d.OriginConcurrency != 16 {
		t.Errorf("defaults: UploadSlots %d, OriginConcurrency %d; want 8 and 16", d.UploadSlots, d.OriginConcurrency)
	}
	c := Config{SlotBandwidth: 10, UploadSlots: 4}.withDefaults()
	for up, want := range map[uint64]int{0: 4, 1: 1, 14: 1, 15: 2, 1000: 16} {
		if got := c.slotsFor(up, 1e9); got != want {
			t.Errorf("slotsFor(%d) = %d, want %d", up, got, want)
		}
	}
	auto := Config{UploadSlots: 4}.withDefaults()
	for _, tc := range []struct {
		up   uint64
		mean float64
		want int
	}{{0, 100, 4}, {100, 0, 4}, {100, 100, 4}, {10, 100, 1}, {50, 100, 2}, {300, 100, 12}, {1e6, 100, 16}} {
		if got := auto.slotsFor(tc.up, tc.mean); got != tc.want {
			t.Errorf("automatic slotsFor(%d, mean %v) = %d, want %d", tc.up, tc.mean, got, tc.want)
		}
	}
}
