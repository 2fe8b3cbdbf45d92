// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"fmt"
	"testing"
)

// inspectEvent runs f on the event loop, for tests that check the state.
type inspectEvent struct {
	f    func(*state)
	done chan struct{}
}

func (e inspectEvent) apply(s *state) { e.f(s); close(e.done) }

// checkState fails t if the scheduler's derived state (counts, free lists,
// slot use, sole holders) disagrees with a recount from first principles.
func checkState(t *testing.T, s *Scheduler) {
	t.Helper()
	var err error
	e := inspectEvent{func(st *state) { err = st.check() }, make(chan struct{})}
	s.events <- e
	<-e.done
	if err != nil {
		t.Fatal(err)
	}
}

// check recounts everything the state keeps incrementally.
func (s *state) check() error {
	uploads := map[*peer]int{}
	for id, p := range s.peers {
		if p.id != id || p.gone {
			return fmt.Errorf("peer %v: bad entry", id)
		}
		for tid, m := range p.members {
			if m.peer != p || m.task.id != tid || s.tasks[tid] != m.task || m.task.members[id] != m {
				return fmt.Errorf("peer %v task %s: membership out of step", id, tid.Short())
			}
		}
	}
	for tid, t := range s.tasks {
		if len(t.members) == 0 {
			return fmt.Errorf("task %s has no members", tid.Short())
		}
		count := make([]int32, t.n)
		srcInflight, sole, idle := 0, 0, 0
		for _, m := range t.members {
			nhave, ndone := 0, 0
			m.have.each(func(i int) { count[i]++; nhave++ })
			m.done.each(func(int) { ndone++ })
			if nhave != m.nhave || ndone != m.ndone {
				return fmt.Errorf("member %v: nhave %d/%d ndone %d/%d", m.peer.id, m.nhave, nhave, m.ndone, ndone)
			}
			pending := 0
			m.pending.each(func(int) { pending++ })
			if pending != len(m.assigns) {
				return fmt.Errorf("member %v: %d pending bits, %d assignments", m.peer.id, pending, len(m.assigns))
			}
			for i, a := range m.assigns {
				if a.released || a.child != m || a.piece != i || !m.pending.has(int(i)) {
					return fmt.Errorf("member %v piece %d: bad assignment %+v", m.peer.id, i, a)
				}
				if a.parent == nil {
					srcInflight++
					if !t.srcBusy.has(int(i)) {
						return fmt.Errorf("piece %d fetched from the source but not marked", i)
					}
				} else {
					uploads[a.parent.peer]++
					if _, ok := a.parent.serving[a]; !ok {
						return fmt.Errorf("piece %d: parent does not list its assignment", i)
					}
				}
			}
			for a := range m.serving {
				if a.released || a.parent != m {
					return fmt.Errorf("member %v serves a stale assignment", m.peer.id)
				}
			}
		}
		for _, m := range t.members {
			n := 0
			m.have.each(func(i int) {
				if count[i] == 1 {
					n++
				}
			})
			if n != m.sole {
				return fmt.Errorf("member %v: sole %d, recounted %d", m.peer.id, m.sole, n)
			}
			if n > 0 {
				sole++
			}
			if m.idle() {
				idle++
			}
			want := m.nhave > 0 && m.peer.hasFreeSlot() && !t.banned[m.peer.id]
			if in := m.freePos >= 0 && m.freePos < len(t.free) && t.free[m.freePos] == m; in != want || (m.freePos >= 0) != want {
				return fmt.Errorf("member %v: on free list %v, want %v", m.peer.id, in, want)
			}
		}
		for i := range t.n {
			if count[i] != t.count[i] || (count[i] > 0) != t.held.has(i) {
				return fmt.Errorf("task %s piece %d: count %d, recounted %d", tid.Short(), i, t.count[i], count[i])
			}
		}
		if srcInflight != t.srcInflight || srcInflight > s.cfg.OriginConcurrency {
			return fmt.Errorf("task %s: %d source fetches, recounted %d", tid.Short(), t.srcInflight, srcInflight)
		}
		if sole != t.soleMembers || idle != t.idleMembers {
			return fmt.Errorf("task %s: sole members %d/%d, idle %d/%d", tid.Short(), t.soleMembers, sole, t.idleMembers, idle)
		}
	}
	for _, p := range s.peers {
		if uploads[p] != p.uploads {
			return fmt.Errorf("peer %v: %d uploads, recounted %d", p.id, p.uploads, uploads[p])
		}
		if _, in := s.full[p]; in == p.hasFreeSlot() {
			return fmt.Errorf("peer %v: in the full set %v with %d of %d slots used", p.id, in, p.uploads, p.slots)
		}
	}
	for p := range s.full {
		if s.peers[p.id] != p {
			return fmt.Errorf("peer %v: in the full set but not registered", p.id)
		}
	}
	return nil
}
