// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import "time"

// deadline is a moment the event loop must act at: an assignment's
// timeout, a peer's heartbeat expiry or the end of a parked request. Exactly
// one pointer is set. Entries are not removed when their object goes away;
// expire skips stale ones.
type deadline struct {
	at     time.Time
	assign *assignment
	peer   *peer
	wait   *waiter
}

// deadlines is a min-heap by time.
type deadlines []deadline

func (h *deadlines) push(d deadline) {
	*h = append(*h, d)
	q := *h
	for j := len(q) - 1; j > 0; {
		p := (j - 1) / 2
		if !q[j].at.Before(q[p].at) {
			break
		}
		q[p], q[j] = q[j], q[p]
		j = p
	}
}

func (h *deadlines) pop() deadline {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = deadline{}
	q = q[:last]
	for j := 0; ; {
		l, r, small := 2*j+1, 2*j+2, j
		if l < len(q) && q[l].at.Before(q[small].at) {
			small = l
		}
		if r < len(q) && q[r].at.Before(q[small].at) {
			small = r
		}
		if small == j {
			break
		}
		q[j], q[small] = q[small], q[j]
		j = small
	}
	*h = q
	return top
}
