// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// This file is the scheduling policy: which pieces a peer fetches next and
// from whom. It runs on the event loop and allocates only the reply.
//
// For a requester m in task t:
//
//  1. Wanted pieces are those m has neither acknowledged nor been assigned,
//     inside its stream window if it has one.
//  2. Source pieces come first: wanted pieces no peer holds and nobody is
//     fetching from the source, plus pieces every holder of which failed m.
//     At most OriginConcurrency source fetches of t run at once, and one
//     requester gets at most its share of them (OriginConcurrency divided
//     by the members, or by the members expected if more, rounded up), so
//     the origin's bandwidth is spread over children that then serve each
//     other; the requester needs a free upload slot (see sourceShare). A
//     piece is fetched from the source once unless that fetch failed.
//  3. The rest of the request is filled with the rarest wanted pieces that
//     some parent with a free upload slot holds (ties broken by group of 64
//     consecutive pieces, then a per-request random salt in file mode, so
//     peers spread over different pieces while the file fills roughly in
//     order; by index in stream mode, which delivers in order). Source
//     pieces are ranked the same way. In swarms of more than
//     candidateSample free parents, a random subset of them is looked at.
//  4. Each piece gets up to ParentsPerPiece parents among the free holders
//     that have not failed m for it, ranked by free upload capacity
//     (declared upload × free slots / slots) among a random sample of
//     holders; the first is charged a slot. A holder that failed m as
//     unreachable in the last shunFor ranks after all others. When earlier
//     picks used up a piece's free holders, another pass looks among the
//     parents left.

// Key layout for ranking candidate pieces: holders, tie-break, index.
const (
	keyIndexBits = 22 // core.MaxPieces = 1<<22
	keyTieBits   = 20
	keyIndexMask = 1<<keyIndexBits - 1
	keyTieMask   = 1<<keyTieBits - 1
	keyCountMax  = 1<<(64-keyIndexBits-keyTieBits) - 1

	// The tie-break among equally rare pieces is the piece's group of
	// 1<<tieGroupShift consecutive pieces, then a salted random number:
	// peers spread over the pieces of a group, and groups go roughly in
	// file order, so the whole-file hash (with --digest) advances while
	// pieces arrive instead of catching up over the whole file at the end.
	tieGroupShift = 6
	keyRandBits   = 10
	keyRandMask   = 1<<keyRandBits - 1
	keyGroupMax   = 1<<(keyTieBits-keyRandBits) - 1
)

// schedule hands m up to max pieces. It never returns nil.
func (s *state) schedule(m *member, max int, now time.Time) *proto.Schedule {
	t := m.task
	sc := &proto.Schedule{}
	if m.ndone == t.n {
		sc.State = proto.StateDone
		return sc
	}
	room := min(max, s.cfg.MaxPending-len(m.assigns), proto.MaxBatch)
	if room > 0 {
		s.pick(m, room, now, sc)
	}
	if len(sc.Assignments) == 0 {
		sc.State = proto.StateWait
		sc.RetryMillis = s.retryMillis()
	}
	return sc
}

// pick appends up to room assignments for m to sc.
func (s *state) pick(m *member, room int, now time.Time, sc *proto.Schedule) {
	t := m.task
	lo, hi := 0, t.n
	if m.window > 0 {
		lo, hi = m.una, min(t.n, m.una+m.window)
	}
	words := len(m.done)
	salt := s.rng.Uint32()

	// Source fetches: the origin is the scarcest parent, keep it busy first.
	srcRoom := min(room, s.cfg.OriginConcurrency-t.srcInflight)
	if srcRoom > 0 {
		srcRoom = min(srcRoom, s.sourceShare(m))
	}
	if srcRoom > 0 {
		src := s.srcCands.reset(words)
		for w := range src {
			src[w] = ^(t.held[w] | t.srcBusy[w] | m.done[w] | m.pending[w])
		}
		src.keepRange(lo, hi)
		for i := range m.failed {
			if t.held.has(int(i)) && !t.srcBusy.has(int(i)) && !m.pending.has(int(i)) && !m.done.has(int(i)) &&
				int(i) >= lo && int(i) < hi && s.allHoldersFailed(m, i) {
				src.set(int(i))
			}
		}
		s.top.reset(srcRoom)
		src.each(func(i int) { s.top.offer(s.key(m, 0, i, salt)) })
		for _, k := range s.top.sorted() {
			i := int(k & keyIndexMask)
			s.assign(m, nil, i, now)
			sc.Assignments = append(sc.Assignments, proto.Assignment{Index: core.PieceIndex(i), Source: true, Digest: t.digests[i]})
		}
		room -= len(sc.Assignments)
	}

	// Peer fetches: rarest wanted pieces some free parent holds. A pass may
	// skip pieces whose free holders earlier picks used up; then another
	// pass looks again among the parents still free.
	for room > 0 && len(t.free) > 0 {
		n := s.pickFromPeers(m, room, lo, hi, salt, now, sc)
		if n == 0 {
			return
		}
		room -= n
	}
}

// pickFromPeers makes one pass of peer assignments and returns how many it
// made.
func (s *state) pickFromPeers(m *member, room, lo, hi int, salt uint32, now time.Time, sc *proto.Schedule) int {
	t := m.task
	// Candidates are the pieces of up to candidateSample free parents,
	// taken from a salted starting point: all of them in swarms up to that
	// size, a random subset in larger ones (rarity itself stays exact).
	cands := s.cands.reset(len(m.done))
	start := int(salt % uint32(len(t.free)))
	for k := range min(len(t.free), candidateSample) {
		j := start + k
		if j >= len(t.free) {
			j -= len(t.free)
		}
		if f := t.free[j]; f != m {
			for w, bits := range f.have {
				cands[w] |= bits
			}
		}
	}
	for w := range cands {
		cands[w] &^= m.done[w] | m.pending[w]
	}
	cands.keepRange(lo, hi)
	s.top.reset(room)
	cands.each(func(i int) {
		// Skip the hash for pieces commoner than every piece kept so far.
		if c := uint64(t.count[i]); m.window > 0 || !s.top.full() || c<<(keyTieBits+keyIndexBits) <= s.top.h[0] {
			s.top.offer(s.key(m, t.count[i], i, salt))
		}
	})
	made := 0
	for _, k := range s.top.sorted() {
		i := int(k & keyIndexMask)
		parents := s.rankParents(m, i, start, salt, now)
		if len(parents) == 0 {
			continue
		}
		a := proto.Assignment{Index: core.PieceIndex(i), Digest: t.digests[i], Parents: make([]proto.Parent, len(parents))}
		for j, p := range parents {
			a.Parents[j] = proto.Parent{Peer: p.peer.id, Addr: p.peer.addr}
		}
		s.assign(m, parents[0], i, now)
		sc.Assignments = append(sc.Assignments, a)
		made++
	}
	return made
}

// sourceShare is how many more source fetches member m may start: its
// share of the origin's slots (OriginConcurrency over the members, rounded
// up) less the ones it runs. The members are those joined so far or, while
// fewer have joined, the task's expected members (Scheduler.Expect): a
// push knows its receivers, and without it the first to join would take
// every source slot (one ask's worth each) and the others would start with
// nothing to fetch but what those few received. A piece fresh from the
// origin is the rarest there is and must be passed on, so m needs a free
// upload slot; a member banned for corruption cannot pass anything on and
// gets source pieces only when nobody else still downloads.
//
// Which member is best placed (idle, holding nothing alone) is a
// preference, not a condition: wake offers freed source slots to parked
// idle members first. An earlier version refused the source to everybody
// else while an idle member existed, and in real swarms that member was
// often not asking (its download slots full), so the origin sat idle.
func (s *state) sourceShare(m *member) int {
	t := m.task
	switch {
	case !m.peer.hasFreeSlot():
		return 0
	case t.banned[m.peer.id] && t.seeds < len(t.members)-1:
		return 0
	}
	own := 0
	for _, a := range m.assigns {
		if a.parent == nil {
			own++
		}
	}
	members := max(1, len(t.members), s.expected[t.id])
	return max(1, (s.cfg.OriginConcurrency+members-1)/members) - own
}

// key ranks piece i for m: fewer holders first, then a salted tie-break
// (file mode) or the index (stream mode).
func (s *state) key(m *member, count int32, i int, salt uint32) uint64 {
	if m.window > 0 {
		return uint64(i)
	}
	c := uint64(min(max(count, 0), keyCountMax))
	group := uint64(min(i>>tieGroupShift, keyGroupMax))
	tie := group<<keyRandBits | uint64(mix32(uint32(i)^salt)&keyRandMask)
	return c<<(keyTieBits+keyIndexBits) | tie<<keyIndexBits | uint64(i)
}

// allHoldersFailed reports whether every current holder of piece i has
// failed m for it, so that only the source is left.
func (s *state) allHoldersFailed(m *member, i core.PieceIndex) bool {
	for _, h := range m.task.members {
		if h != m && h.have.has(int(i)) && !m.hasFailed(i, h.peer.id) {
			return false
		}
	}
	return true
}

// rankParents returns up to ParentsPerPiece free holders of piece i that
// have not failed m, best first. It scans the window of the free list the
// candidates came from (candidateSample parents from start), beginning at a
// salted offset, and stops once it has seen parentSample eligible holders
// per wanted parent (the power of a few random choices), so a decision
// costs the same for ten peers or ten thousand. The result aliases scratch
// space.
func (s *state) rankParents(m *member, i, start int, salt uint32, now time.Time) []*member {
	free := m.task.free
	if len(free) == 0 {
		return nil
	}
	window := min(len(free), candidateSample)
	start %= len(free) // earlier picks may have shrunk the free list
	want := s.cfg.ParentsPerPiece
	sample := want * parentSample
	top := s.parents[:0]
	s.scores = s.scores[:0]
	off := int(mix32(uint32(i)^salt) % uint32(window))
	seen := 0
	for k := range window {
		pos := off + k // position in the window, then in the free list
		if pos >= window {
			pos -= window
		}
		if pos += start; pos >= len(free) {
			pos -= len(free)
		}
		f := free[pos]
		if f == m || !f.have.has(i) || m.hasFailed(core.PieceIndex(i), f.peer.id) {
			continue
		}
		// Insert f into top (best first), keeping at most want.
		score := f.peer.score
		if m.shuns(f.peer.id, now) {
			score = -1 // after every holder m can reach
		}
		j := len(top)
		if j < want {
			top = append(top, f)
			s.scores = append(s.scores[:j], score)
		} else if score > s.scores[j-1] {
			j--
			top[j], s.scores[j] = f, score
		} else {
			j = -1
		}
		for ; j > 0 && s.scores[j] > s.scores[j-1]; j-- {
			top[j], top[j-1] = top[j-1], top[j]
			s.scores[j], s.scores[j-1] = s.scores[j-1], s.scores[j]
		}
		if seen++; seen >= sample {
			break
		}
	}
	s.parents = top
	return top
}

// candidateSample bounds how many free parents' pieces one decision
// considers, so that its cost does not grow with the swarm.
const candidateSample = 64

// parentSample times ParentsPerPiece is how many eligible holders
// rankParents compares.
const parentSample = 4

// freeCapacity is the upload bandwidth a new child of p can expect:
// declared upload × free slots / slots.
func freeCapacity(p *peer) float64 {
	up := float64(max(p.upload, 1))
	return up * float64(p.slots-p.uploads) / float64(p.slots)
}

// mix32 is a cheap integer hash (lowbias32).
func mix32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// reset returns b resized to words and cleared, reusing its memory.
func (b *bitset) reset(words int) bitset {
	if cap(*b) < words {
		*b = make(bitset, words)
	}
	*b = (*b)[:words]
	clear(*b)
	return *b
}

// topK keeps the k smallest keys offered.
type topK struct {
	k int
	h []uint64 // max-heap
}

func (t *topK) reset(k int) { t.k, t.h = k, t.h[:0] }

func (t *topK) full() bool { return len(t.h) >= t.k }

func (t *topK) offer(key uint64) {
	switch {
	case len(t.h) < t.k:
		t.h = append(t.h, key)
		for j := len(t.h) - 1; j > 0; {
			p := (j - 1) / 2
			if t.h[p] >= t.h[j] {
				break
			}
			t.h[p], t.h[j] = t.h[j], t.h[p]
			j = p
		}
	case t.k > 0 && key < t.h[0]:
		t.h[0] = key
		for j := 0; ; {
			l, r, big := 2*j+1, 2*j+2, j
			if l < len(t.h) && t.h[l] > t.h[big] {
				big = l
			}
			if r < len(t.h) && t.h[r] > t.h[big] {
				big = r
			}
			if big == j {
				break
			}
			t.h[j], t.h[big] = t.h[big], t.h[j]
			j = big
		}
	}
}

// sorted returns the kept keys in increasing order, emptying the heap.
func (t *topK) sorted() []uint64 {
	h := t.h
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		for j := 0; ; {
			l, r, big := 2*j+1, 2*j+2, j
			if l < end && h[l] > h[big] {
				big = l
			}
			if r < end && h[r] > h[big] {
				big = r
			}
			if big == j {
				break
			}
			h[j], h[big] = h[big], h[j]
			j = big
		}
	}
	t.h = h[:0]
	return h
}
