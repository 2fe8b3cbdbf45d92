// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"sync"
)

// A window hands out a session's sequence numbers and tracks which are
// complete, like a TCP send window: floor is the lowest sequence number not
// yet complete, sent to the receiver as the acknowledgement that lets it
// forget everything below. At most len(done) numbers are outstanding.
type window struct {
	mu    sync.Mutex // guards the following
	next  uint64     // next number to hand out; numbers start at 1
	floor uint64     // lowest number not complete
	done  []bool     // done[seq%len]: seq in [floor, next) completed
	wake  chan struct{}
}

func newWindow(size int) *window {
	return &window{next: 1, floor: 1, done: make([]bool, size)}
}

// acquire returns the next sequence number and the current floor, waiting
// while the window is full.
func (w *window) acquire(ctx context.Context) (seq, floor uint64, err error) {
	w.mu.Lock()
	for w.next-w.floor >= uint64(len(w.done)) {
		if w.wake == nil {
			w.wake = make(chan struct{})
		}
		wake := w.wake
		w.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		w.mu.Lock()
	}
	seq = w.next
	w.next++
	floor = w.floor
	w.mu.Unlock()
	return seq, floor, nil
}

// release marks seq complete and advances the floor over completed numbers.
func (w *window) release(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq < w.floor || seq >= w.next {
		return
	}
	w.done[seq%uint64(len(w.done))] = true
	advanced := false
	for w.floor < w.next && w.done[w.floor%uint64(len(w.done))] {
		w.done[w.floor%uint64(len(w.done))] = false
		w.floor++
		advanced = true
	}
	if advanced && w.wake != nil {
		close(w.wake)
		w.wake = nil
	}
}
