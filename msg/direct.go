// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Direct receive. A waiting Receive reads the node's hot session (the
// remote session of the last hotStreak requests received, or the node's
// only session) itself, so a request
// reaches it without a hand-off from the session's loop goroutine (with
// wire's single-connection fast path, Receive's goroutine reads the
// connection). Frames that are not a new request for it (move data,
// duplicates) it dispatches as the loop would. Movers read their session
// the same way while they wait (move.go).
//
// A session's loop stops reading while a Receive or a mover does. It reads
// again when woken: when its session stops being hot, when the last reader
// of a session that is not hot leaves, and by the reaper every half
// RetransmitInterval if nobody reads, so a retransmission is answered
// "pending" while the receivers are busy. Requests that arrive while
// nobody reads wait in wire's queue (bounded; its back-pressure holds the
// connection). The loops of the other sessions read all the time and
// queue their requests; whoever queues a request wakes the direct
// receivers. A Receive that takes a request of another session ends the
// hot session's reign: while several sessions take turns, every session
// is read by its loop and requests reach Receive through the queue, as
// reading one of them directly would only add a wake-up (an interrupted
// read) for the requests of all the others.

// hotStreak is the number of requests in a row from one session that make
// it hot.
const hotStreak = 8

// A receiver is one Receive reading a session directly; pooled.
type receiver struct {
	wait waitCtx             // woken by a queued request or the caller's context
	stop func() bool         // stops the wake at the end of the caller's context
	head [dataHeaderLen]byte // the head of a streamed frame
}

var receiverPool = sync.Pool{New: func() any {
	rc := new(receiver)
	rc.wait.done = make(chan struct{})
	return rc
}}

// directState is the node's bookkeeping of direct receives.
type directState struct {
	hot atomic.Pointer[inPeer] // the session direct receivers read, or nil

	waiting atomic.Int32 // len(rcs)
	mu      sync.Mutex   // guards rcs
	rcs     []*receiver

	smu    sync.Mutex // guards last and streak
	last   *inPeer    // the session of the last request taken
	streak int        // requests in a row taken from last
}

// errSessionGone sends a direct Receive back to the receive queue once: the
// hot session's mux is closed.
var errSessionGone = errors.New("msg: session gone")

// setHot makes in (nil: none) the session direct receivers read. The
// session that stops being hot reads with its loop again, and the direct
// receivers look again.
func (n *Node) setHot(in *inPeer) {
	old := n.direct.hot.Swap(in)
	if old == in {
		return
	}
	if old != nil {
		old.wakeLoop()
	}
	n.wakeReceivers()
}

// setHotLocked updates the hot session after n.in changed; n.mu is held.
// A node's only session is hot; a forgotten hot session leaves none.
func (n *Node) setHotLocked() {
	hot := n.direct.hot.Load()
	if hot != nil && n.in[hot.hello.Session] == hot {
		return
	}
	hot = nil
	if len(n.in) == 1 {
		for _, in := range n.in {
			hot = in
		}
	}
	n.setHot(hot)
}

// noteRequest counts a request of in (nil: a local one) taken by a
// Receive: hotStreak of them in a row make in hot; one of another session,
// or a local one, ends the reign of the hot one (a local request reaches
// Receive through the queue; reading a session meanwhile only costs it an
// interrupted read).
func (n *Node) noteRequest(in *inPeer) {
	d := &n.direct
	d.smu.Lock()
	if d.last == in {
		d.streak++
	} else {
		d.last, d.streak = in, 1
	}
	streak := d.streak
	d.smu.Unlock()
	hot := d.hot.Load()
	switch {
	case hot == in:
	case in != nil && streak >= hotStreak:
		n.mu.Lock()
		known := n.in[in.hello.Session] == in
		n.mu.Unlock()
		if known {
			n.setHot(in)
		}
	case hot != nil:
		n.setHot(nil)
	}
}

// wakeReceivers wakes the direct receivers: a request was queued.
func (n *Node) wakeReceivers() {
	d := &n.direct
	if d.waiting.Load() == 0 {
		return
	}
	d.mu.Lock()
	for _, rc := range d.rcs {
		rc.wait.wake()
	}
	d.mu.Unlock()
}

// wakeLoops wakes the loops of the sessions no Receive reads.
func (n *Node) wakeLoops() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, in := range n.in {
		in.mu.Lock()
		idle := in.readers == 0
		in.mu.Unlock()
		if idle {
			in.wakeLoop()
		}
	}
}

func (d *directState) add(rc *receiver) {
	d.mu.Lock()
	d.rcs = append(d.rcs, rc)
	d.waiting.Store(int32(len(d.rcs)))
	d.mu.Unlock()
}

func (d *directState) remove(rc *receiver) {
	d.mu.Lock()
	for i, x := range d.rcs {
		if x == rc {
			last := len(d.rcs) - 1
			d.rcs[i] = d.rcs[last]
			d.rcs[last] = nil
			d.rcs = d.rcs[:last]
			break
		}
	}
	d.waiting.Store(int32(len(d.rcs)))
	d.mu.Unlock()
}

// receiveDirect reads the session in until a new request arrives on it or
// in the receive queue. A zero ref with a nil error means: look again
// (the session is no longer hot).
func (n *Node) receiveDirect(ctx context.Context, in *inPeer, rc *receiver) (reqRef, error) {
	if rc == nil {
		rc = newReceiver(ctx)
		defer rc.release()
	}
	n.direct.add(rc)
	in.enterReader()
	ref, err := n.readDirect(ctx, in, rc)
	n.direct.remove(rc)
	in.leaveReader()
	return ref, err
}

// newReceiver returns a pooled receiver woken by the end of ctx; release
// it when done.
func newReceiver(ctx context.Context) *receiver {
	rc := receiverPool.Get().(*receiver)
	if ctx.Done() != nil {
		rc.stop = context.AfterFunc(ctx, rc.wait.wake)
	}
	return rc
}

func (rc *receiver) release() {
	if rc.stop != nil {
		rc.stop()
		rc.stop = nil
	}
	rc.wait.reset()
	receiverPool.Put(rc)
}

func (n *Node) readDirect(ctx context.Context, in *inPeer, rc *receiver) (reqRef, error) {
	for {
		select {
		case ref := <-n.reqs:
			return ref, nil
		default:
		}
		m, err := in.sock.Receive(&rc.wait)
		if err == nil {
			in.active.Store(true)
			if ref, _, res := in.dispatch(m, rc.head[:], nil, true); res == dispatchRequest {
				return ref, nil
			}
			continue
		}
		if e := ctx.Err(); e != nil {
			return reqRef{}, e
		}
		select {
		case <-n.closed:
			return reqRef{}, ErrClosed
		default:
		}
		if !errors.Is(err, errWoken) {
			return reqRef{}, errSessionGone // its mux is closed
		}
		rc.wait.reset()
		if n.direct.hot.Load() != in {
			return reqRef{}, nil
		}
	}
}

// enterReader makes the caller one of the session's readers: the loop's
// read ends.
func (in *inPeer) enterReader() {
	in.mu.Lock()
	in.readers++
	stop := in.loopStop
	in.loopStop = nil
	in.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// leaveReader ends enterReader. The loop reads again at once unless the
// session is hot (then a Receive soon reads, or the reaper wakes the
// loop).
func (in *inPeer) leaveReader() {
	in.mu.Lock()
	in.readers--
	left := in.readers
	in.mu.Unlock()
	if left == 0 && in.n.direct.hot.Load() != in {
		in.wakeLoop()
	}
}
