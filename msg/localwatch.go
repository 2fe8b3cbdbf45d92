// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"sync"
)

// A localWatch watches the context of a node's local Sends, so that a
// local Send waits for its reply with a plain channel receive instead of a
// select on the reply and the context's Done, which costs about 0.2 µs of
// an in-process round trip of 1.5 µs (docs/benchmarks.md, "## msg",
// session 8). When the context ends, the watch withdraws every Send waiting
// under it and wakes it through its txn's done channel, as the target's
// Close does (localWaits).
//
// A node keeps one watch, for the context of its latest local Sends: a
// serving loop sends with one context again and again, and registering a
// watch on a context (context.AfterFunc) costs more than the select it
// saves. So a watch is made only for a context whose Done was also that of
// the node's previous local Send without a watch; a Send under any other
// context selects as before. A watch replaced, or that of a closed node,
// stops watching once no Send waits under it.
type localWatch struct {
	done <-chan struct{}
	stop func() bool

	mu      sync.Mutex // guards the following and the txns' watch links
	list    txnList
	users   int  // Sends between enter and leave
	current bool // the node's watch
	fired   bool // the context ended
}

// enter registers tx, not yet queued, as waiting under w; false if the
// context ended or w is no longer the node's watch (the Send selects).
func (w *localWatch) enter(tx *txn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired || !w.current {
		return false
	}
	w.users++
	w.list.push(tx, watchLinks)
	return true
}

// leave unregisters tx once its Send has been woken.
func (w *localWatch) leave(tx *txn) {
	w.mu.Lock()
	w.list.remove(tx, watchLinks)
	w.users--
	idle := w.users == 0 && !w.current
	w.mu.Unlock()
	if idle {
		w.stop()
	}
}

// retire makes w no longer the node's watch; it stops watching now or
// when its last Send leaves.
func (w *localWatch) retire() {
	w.mu.Lock()
	w.current = false
	idle := w.users == 0
	w.mu.Unlock()
	if idle {
		w.stop()
	}
}

// fire withdraws the Sends waiting under w and wakes them: the context
// ended. A Send already answered (by Reply or the target's Close) is left
// alone; its done channel has its one signal.
func (w *localWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fired = true
	w.list.answer(watchLinks, func(tx *txn) { tx.cancelled = true })
}

// watchFor returns the watch to register a local Send under, nil if it
// is to select on done itself (done is ctx.Done(), not nil).
func (n *Node) watchFor(ctx context.Context, done <-chan struct{}) *localWatch {
	if w := n.watch.Load(); w != nil && w.done == done {
		return w
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return nil
	}
	if n.lastDone != done {
		n.lastDone = done
		return nil
	}
	w := &localWatch{done: done, current: true}
	w.stop = context.AfterFunc(ctx, w.fire)
	if old := n.watch.Swap(w); old != nil {
		old.retire()
	}
	return w
}

// dropWatchLocked retires the node's watch (Close); n.mu is held.
func (n *Node) dropWatchLocked() {
	n.lastDone = nil
	if w := n.watch.Swap(nil); w != nil {
		w.retire()
	}
}
