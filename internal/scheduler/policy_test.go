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

// TestSourceNotHeldForIdleMember: a member that holds a piece alone still
// gets source pieces while other members are idle but not asking (in a
// real swarm: their download slots are full). The origin must not idle
// waiting for them.
func TestSourceNotHeldForIdleMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 8})
		h.peer(0) // idle, never asks
		b := h.peer(1)
		h.peer(2) // idle, never asks
		_, src := pieces(h.request(b, 1))
		if len(src) != 1 {
			t.Fatalf("first request: source %v, want one piece", src)
		}
		h.done(b, src[0]) // b now holds it alone
		_, src = pieces(h.request(b, 8))
		if want := 3; len(src) != want { // ceil(8 slots / 3 members)
			t.Fatalf("second request: source %v, want %d pieces (its share of the origin)", src, want)
		}
	})
}

// TestBannedMemberGetsNoSource: a member banned for corruption cannot pass
// pieces on, so while others still download the origin's slots go to them,
// and the banned member does not hold them back.
func TestBannedMemberGetsNoSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 16, ParentsPerPiece: 1})
		bad := h.peer(0, 0, 1, 2, 3) // holds the first half
		h.done(bad, 0, 1, 2, 3)      // with digests
		r := h.peer(1)
		corrupt := -1
		for _, as := range h.request(r, 8).Assignments {
			if !as.Source && as.Parents[0].Peer == bad {
				corrupt = int(as.Index)
			}
		}
		if corrupt < 0 {
			t.Fatal("no piece assigned from the holder")
		}
		h.failed(r, corrupt, bad, proto.ReasonCorrupt)
		if _, src := pieces(h.request(bad, 4)); len(src) != 0 {
			t.Fatalf("banned member got source pieces %v while another downloads", src)
		}
		if _, src := pieces(h.request(r, 8)); len(src) != 1 || src[0] != corrupt {
			t.Fatalf("after the ban: source %v, want piece %d, which nobody else holds", src, corrupt)
		}
	})
}

// TestPieceDoneForJoinedPiece: a PieceDone for a piece the member declared
// in its Join bitmap records the digest, so children can verify it.
func TestPieceDoneForJoinedPiece(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{ParentsPerPiece: 1})
		seed := h.peer(0, 0, 1, 2, 3, 4, 5, 6, 7)
		c := h.peer(1)
		first := h.request(c, 2)
		for _, as := range first.Assignments {
			if as.Source || !as.Digest.IsZero() {
				t.Fatalf("before the report: %+v, want a peer piece with no digest", as)
			}
		}
		h.done(seed, 0, 1, 2, 3, 4, 5, 6, 7)
		second := h.request(c, 2)
		if len(second.Assignments) != 2 {
			t.Fatalf("second request: %+v", second.Assignments)
		}
		for _, as := range second.Assignments {
			if want := (core.Digest{byte(as.Index + 1)}); as.Digest != want {
				t.Fatalf("piece %d assigned with digest %v, want %v", as.Index, as.Digest, want)
			}
		}
	})
}

// TestKeyOrder: rarity decides first; among equally rare pieces an earlier
// group of 1<<tieGroupShift pieces goes first whatever the salt, and inside
// a group the salt decides.
func TestKeyOrder(t *testing.T) {
	s, m := &state{}, &member{}
	const g = 1 << tieGroupShift
	varied := false
	for salt := range uint32(64) {
		if s.key(m, 0, 5*g, salt) >= s.key(m, 1, 0, salt) {
			t.Fatalf("salt %d: a rarer piece later in the file does not go first", salt)
		}
		if s.key(m, 1, g-1, salt) >= s.key(m, 1, g, salt) {
			t.Fatalf("salt %d: piece %d of the first group after piece %d of the second", salt, g-1, g)
		}
		if (s.key(m, 1, 0, salt) < s.key(m, 1, 1, salt)) != (s.key(m, 1, 0, 0) < s.key(m, 1, 1, 0)) {
			varied = true
		}
	}
	if !varied {
		t.Error("the salt never changes the order inside a group")
	}
}

// TestExpectedMembersShareSource: when the task expects more members than
// have joined (a push knows its receivers), the first to join gets only
// its share of the origin's slots over the expected members, not every
// slot; lowering the expectation (a receiver refused) gives it more, and
// the expectation may come before the task exists.
func TestExpectedMembersShareSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{OriginConcurrency: 8})
		if err := h.s.Expect(h.ctx, h.task, 4); err != nil {
			t.Fatal(err)
		}
		a := h.peer(0)
		if _, src := pieces(h.request(a, 8)); len(src) != 2 { // ceil(8 slots / 4 expected)
			t.Fatalf("first of 4 expected members: source %v, want 2 pieces", src)
		}
		b := h.peer(1)
		if _, src := pieces(h.request(b, 8)); len(src) != 2 {
			t.Fatalf("second of 4 expected members: source %v, want 2 pieces", src)
		}
		if err := h.s.Expect(h.ctx, h.task, 2); err != nil { // the other two refused
			t.Fatal(err)
		}
		if _, src := pieces(h.request(a, 8)); len(src) != 2 { // ceil(8 / 2) less the 2 it runs
			t.Fatalf("after the expectation fell to 2: source %v, want 2 more pieces", src)
		}
		if err := h.s.Expect(h.ctx, h.task, 0); err != nil {
			t.Fatal(err)
		}
		if _, src := pieces(h.request(b, 8)); len(src) != 2 {
			t.Fatalf("expectation forgotten: source %v, want the 2 pieces left", src)
		}
	})
}

// TestExpectErrors: a malformed task id or a negative count is refused.
func TestExpectErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{MaxTasks: 1})
		for _, c := range []struct {
			task core.TaskID
			n    int
			want error
		}{
			{"", 2, ErrBadRequest},
			{"not-hex", 2, ErrBadRequest},
			{h.task, -1, ErrBadRequest},
			{h.task, 3, nil},
			{core.TaskIDForURL("https://example.com/other", 1024), 3, ErrFull},
			{h.task, 0, nil},
			{core.TaskIDForURL("https://example.com/other", 1024), 3, nil},
		} {
			if err := h.s.Expect(h.ctx, c.task, c.n); !errors.Is(err, c.want) {
				t.Errorf("Expect(%.12q, %d) = %v, want %v", c.task, c.n, err, c.want)
			}
		}
	})
}

// TestUnreachableParentShunned: a parent that failed a child as unreachable
// ranks after the child's other holders for shunFor, even when it has more
// free capacity, and is still offered where it is the only holder.
func TestUnreachableParentShunned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Config{ParentsPerPiece: 2, HeartbeatInterval: time.Hour})
		bad := simPeerID(0) // holds everything, with twice the capacity
		if _, err := h.s.Register(h.ctx, &proto.Register{Peer: bad, Addr: "bad", Upload: 2000}); err != nil {
			t.Fatal(err)
		}
		all := make([]byte, 1)
		for i := range 8 {
			proto.BitmapSet(all, core.PieceIndex(i))
		}
		if _, err := h.s.Join(h.ctx, &proto.Join{Peer: bad, Task: h.task, Layout: h.layout, Have: all}); err != nil {
			t.Fatal(err)
		}
		good := h.peer(1, 0, 1, 2, 3)
		r := h.peer(2)

		sc := h.request(r, 1) // a rarest piece, 4-7, which only bad holds
		if len(sc.Assignments) != 1 || sc.Assignments[0].Source || sc.Assignments[0].Parents[0].Peer != bad {
			t.Fatalf("first request: %+v, want a piece from the only holder", sc.Assignments)
		}
		lost := int(sc.Assignments[0].Index)
		h.failed(r, lost, bad, proto.ReasonUnreachable)

		sc = h.request(r, 8)
		var again []int
		for _, a := range sc.Assignments {
			i := int(a.Index)
			switch {
			case i == lost:
				if !a.Source {
					t.Errorf("piece %d from %v, want the source: its only holder failed", i, a.Parents[0].Peer)
				}
			case a.Source:
				t.Errorf("piece %d from the source, want a holder", i)
			case i >= 4:
				if a.Parents[0].Peer != bad {
					t.Errorf("piece %d from %v, want its only holder, shunned or not", i, a.Parents[0].Peer)
				}
				h.done(r, i)
			default:
				if a.Parents[0].Peer != good || len(a.Parents) != 2 || a.Parents[1].Peer != bad {
					t.Errorf("piece %d from %+v, want the reachable holder first and the shunned one after it", i, a.Parents)
				}
				h.failed(r, i, core.PeerID{}, proto.ReasonLocal)
				again = append(again, i)
			}
		}
		if len(sc.Assignments) != 8 || len(again) != 4 {
			t.Fatalf("second request: %d assignments, %d of pieces 0-3, want 8 and 4", len(sc.Assignments), len(again))
		}

		time.Sleep(shunFor)
		sc = h.request(r, 4)
		if len(sc.Assignments) != 4 {
			t.Fatalf("after shunFor: %d assignments, want 4", len(sc.Assignments))
		}
		for _, a := range sc.Assignments {
			if a.Parents[0].Peer != bad {
				t.Errorf("after shunFor: piece %d from %v first, want the holder with more free capacity again", a.Index, a.Parents[0].Peer)
			}
		}
	})
}
