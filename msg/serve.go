// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"sync/atomic"
)

// A serveLoop is one [Node.Serve] call's wait on the node's receive queue.
//
// Serve waits there with a plain channel receive, not a select on the
// queue and a quit channel: in an in-process round trip, which is two
// goroutine hand-offs, a select costs about 0.2 µs more than a receive
// (docs/benchmarks.md, "## msg", session 8). The end of Serve's context or
// the node's closing therefore reaches a loop blocked on the queue as a
// wake-up put on the queue: a ref to the loop's wake txn, which is never
// waiting, so that every other receiver's take refuses it.
//
// The protocol. The poster sets quitting before it queues the wake-up. The
// loop sets blocking before it reads quitting and receives, and clears it
// once it has received. A receiver that takes another loop's wake-up (a
// second Serve, a Receive, Close's drain) passes it on, without blocking,
// while that loop is blocking, and drops it otherwise: a loop that is not
// blocking reads quitting before its next receive. Atomics are sequentially
// consistent, so a receiver that reads blocking false after the poster set
// quitting leaves the loop to set blocking later and then read quitting
// true. A wake-up passed on while the queue is full is dropped too: a loop
// cannot then block on the queue before it finds a request there, and it
// reads quitting before its next receive.
type serveLoop struct {
	wake     *txn // state txnIdle for ever; wake.serve is the loop
	quitting atomic.Bool
	blocking atomic.Bool
	exited   chan struct{} // closed when Serve returns
}

func newServeLoop() *serveLoop {
	sl := &serveLoop{wake: &txn{}, exited: make(chan struct{})}
	sl.wake.serve = sl
	return sl
}

// post marks the loop quitting and queues its wake-up, waiting while the
// queue is full unless the loop has returned. It runs once, when Serve's
// context or the node ends.
func (sl *serveLoop) post(n *Node) {
	sl.quitting.Store(true)
	select {
	case <-sl.exited:
		return
	default:
	}
	select {
	case n.reqs <- reqRef{tx: sl.wake}:
	case <-sl.exited:
	}
}

// passOn queues the loop's wake-up again, taken by another receiver, if
// the loop is blocking on the queue.
func (sl *serveLoop) passOn(n *Node, ref reqRef) {
	if !sl.blocking.Load() {
		return
	}
	select {
	case n.reqs <- ref:
	default:
	}
}

// receive waits for the next ref on the queue; false if the loop is to
// quit.
func (sl *serveLoop) receive(n *Node) (reqRef, bool) {
	sl.blocking.Store(true)
	if sl.quitting.Load() {
		sl.blocking.Store(false)
		return reqRef{}, false
	}
	ref := <-n.reqs
	sl.blocking.Store(false)
	if ref.tx == sl.wake {
		return reqRef{}, false
	}
	return ref, true
}

// Serve receives requests and calls h for each, one at a time in the
// calling goroutine, until ctx ends (returning its error) or the node
// closes ([ErrClosed]). The *Request passed to h is reused for the next
// request once h returns; a handler that answers later keeps a copy
// (req := *r), which stays valid.
func (n *Node) Serve(ctx context.Context, h func(ctx context.Context, r *Request)) error {
	var r Request
	// One receiver for the whole loop: the end of ctx is watched once,
	// not once per request; so is the node's closing, merged with it into
	// one wake-up of the waits on the receive queue.
	rc := newReceiver(ctx)
	defer rc.release()
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	sl := newServeLoop()
	stopPost := context.AfterFunc(qctx, func() { sl.post(n) })
	defer close(sl.exited) // before cancel: a post that still runs returns
	defer stopPost()
	for {
		if err := n.receiveInto(ctx, &r, rc, sl); err != nil {
			return err
		}
		h(ctx, &r)
	}
}
