// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// A call is a remote Send as its sender sees it, pooled. While it is in
// outPeer.calls its segment may be served to the receiver; segMu is held
// shared by each move being served and exclusively by the Send when it
// completes, so the segment is never touched after Send returns.
type call struct {
	seq    uint64
	seg    Segment
	access Access
	segLen int64
	done   chan *wire.Message    // the reply, when another goroutine read it; cap 1
	heard  atomic.Bool           // a pending frame arrived since the last retransmission
	rx     uint64                // the session's bytes received (wire.Mux.Received) when the timer last fired
	fired  atomic.Bool           // the retransmission timer fired
	wait   waitCtx               // ends the Send's own read of the session (wakeCtx)
	frame  []byte                // the encoded request without its carry
	tail   []byte                // the carry, sent after frame: the segment's first bytes in place, or carry
	req    requestFrame          // the request, to encode its retransmission with a shorter carry
	carry  []byte                // scratch for a file segment's first bytes
	timer  *time.Timer           // sets fired and wakes wait
	head   [moveToHeaderLen]byte // the head of a streamed frame this Send read
	long   longReply             // the head of a long reply, read by the goroutine that read the frame

	// The watch of the end of a Send's context (watch): it outlives the
	// Send, so that the next Send of the call with the same context
	// keeps it.
	watchDone <-chan struct{} // the watched context's Done, or nil
	watchStop func() bool     // ends the watch
	watchEnd  atomic.Bool     // the watched context ended
	onEnd     func()          // the watch's function: sets watchEnd, wakes wait

	segMu sync.RWMutex

	movesMu sync.Mutex // guards moves
	moves   map[uint64]*moveToState
}

// A longReply is a reply frame too long to be buffered (ReplyWithSegment
// with more than MaxCarry bytes) as the goroutine that read it, data and
// all, left it for the Send: its fixed fields and message (in msg, kept
// with the call), or what was wrong with the frame or its data.
type longReply struct {
	f   replyFrame
	msg []byte
	err error
}

var callPool = sync.Pool{New: func() any {
	c := &call{done: make(chan *wire.Message, 1)}
	c.wait.done = make(chan struct{})
	c.timer = time.AfterFunc(time.Hour, func() {
		c.fired.Store(true)
		c.wait.wake()
	})
	c.timer.Stop()
	c.onEnd = func() {
		c.watchEnd.Store(true)
		c.wait.wake()
	}
	return c
}}

// maxIdleCalls bounds the calls a session keeps for its next Sends
// (outPeer.idle); more go back to callPool.
const maxIdleCalls = 16

// maxIdleCallBuf bounds the buffers of a call a session keeps: a call that
// grew larger ones (a long message, a file segment's carry) goes back to
// callPool, which the garbage collector may empty.
const maxIdleCallBuf = 4 << 10

// getCall returns a call for a Send: one the session kept, which may
// still watch the context of its last Send, or a pooled one.
func (op *outPeer) getCall() *call {
	var c *call
	op.mu.Lock()
	if k := len(op.idle); k > 0 {
		c = op.idle[k-1]
		op.idle[k-1] = nil
		op.idle = op.idle[:k-1]
	}
	op.mu.Unlock()
	if c == nil {
		c = callPool.Get().(*call)
	}
	c.wait.reset() // the end of a watched context may have woken it meanwhile
	return c
}

// putCall keeps c for the session's next Send, with its watch, or
// returns it to callPool without one.
func (op *outPeer) putCall(c *call) {
	if cap(c.frame)+cap(c.carry)+cap(c.long.msg) <= maxIdleCallBuf {
		op.mu.Lock()
		if !op.idleClosed && len(op.idle) < maxIdleCalls {
			op.idle = append(op.idle, c)
			op.mu.Unlock()
			return
		}
		op.mu.Unlock()
	}
	c.unwatch()
	callPool.Put(c)
}

// closeIdle ends the watches of the calls the session keeps and returns
// them to callPool, for good: the session is over, and must not keep its
// callers' contexts busy.
func (op *outPeer) closeIdle() {
	op.mu.Lock()
	idle := op.idle
	op.idle = nil
	op.idleClosed = true
	op.mu.Unlock()
	for _, c := range idle {
		c.unwatch()
		callPool.Put(c)
	}
}

// watch makes the end of ctx, whose Done is d, wake the Send's wait. A
// call keeps its watch after the Send (putCall): the next Send with a
// context of the same Done (a caller's long-lived context, the common
// case) does not register and remove one per Send, which costs an
// allocation and two updates of the parent context's children. A watch
// that fires for a call no longer used with that context only wakes the
// call's next wait once, which the waiting Send takes as spurious.
func (c *call) watch(ctx context.Context, d <-chan struct{}) {
	if c.watchDone == d && !c.watchEnd.Load() {
		return
	}
	c.unwatch()
	c.watchDone = d
	c.watchStop = context.AfterFunc(ctx, c.onEnd)
}

// unwatch ends c's watch, if any.
func (c *call) unwatch() {
	if c.watchStop != nil {
		c.watchStop()
		c.watchStop, c.watchDone = nil, nil
	}
	c.watchEnd.Store(false)
}

// A callTable holds a session's calls awaiting replies by sequence
// number, without a map: the window keeps fewer than len(slots)
// consecutive numbers outstanding, and a call leaves the table before its
// number is released, so no two calls in it share a slot.
type callTable struct {
	slots []*call
	n     int // calls in the table
}

func newCallTable(window int) callTable { return callTable{slots: make([]*call, window)} }

// get returns the call awaiting the reply to seq, or nil.
func (t *callTable) get(seq uint64) *call {
	c := t.slots[seq%uint64(len(t.slots))]
	if c == nil || c.seq != seq {
		return nil
	}
	return c
}

// add puts c, whose seq is set, in the table.
func (t *callTable) add(c *call) {
	t.slots[c.seq%uint64(len(t.slots))] = c
	t.n++
}

// remove takes the call awaiting the reply to seq out of the table and
// returns it, or nil.
func (t *callTable) remove(seq uint64) *call {
	c := t.get(seq)
	if c != nil {
		t.slots[seq%uint64(len(t.slots))] = nil
		t.n--
	}
	return c
}

// errWoken ends a Send's read of its session: something else needs its
// attention (its reply came through another goroutine, its timer fired,
// its context ended).
var errWoken = errors.New("msg: woken")

// A waitCtx is the context of a Send's read of its session: done when
// woken. It is reused by the next Send of the pooled call unless it was
// woken (then it gets a new channel), so a Send that reads its own reply
// allocates nothing.
//
// Only its owner (the goroutine that reads with it) calls Done, Err and
// reset; anyone may wake it. So Done and Err take no lock: done is
// replaced only by reset, in the owner's goroutine.
type waitCtx struct {
	mu    sync.Mutex    // serialises wake and reset
	done  chan struct{} // closed when woken; replaced by reset
	woken atomic.Bool
}

// wake ends the current wait.
func (w *waitCtx) wake() {
	w.mu.Lock()
	if !w.woken.Load() {
		w.woken.Store(true)
		close(w.done)
	}
	w.mu.Unlock()
}

// reset makes a woken waitCtx usable again.
func (w *waitCtx) reset() {
	if !w.woken.Load() {
		return // a wake from now on closes the current channel
	}
	w.mu.Lock()
	w.woken.Store(false)
	w.done = make(chan struct{})
	w.mu.Unlock()
}

// Deadline implements context.Context.
func (w *waitCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (w *waitCtx) Done() <-chan struct{} { return w.done }

// Err implements context.Context.
func (w *waitCtx) Err() error {
	if w.woken.Load() {
		return errWoken
	}
	return nil
}

// Value implements context.Context.
func (w *waitCtx) Value(any) any { return nil }

// send runs one remote Send: transmit, then wait for the reply while
// retransmitting every RetransmitInterval (await).
func (op *outPeer) send(ctx context.Context, dst, m []byte, seg Segment, rights Access) ([]byte, error) {
	seq, ack, err := op.win.acquire(ctx)
	if err != nil {
		return dst, err
	}
	c := op.getCall()
	c.seq, c.seg, c.access, c.segLen = seq, seg, rights, segLen(seg)
	c.heard.Store(false)
	f := requestFrame{Seq: seq, Ack: ack, Msg: m, HasSeg: seg != nil, Access: rights, SegLen: c.segLen}
	if rights&Read != 0 {
		k := min(int64(op.n.cfg.MaxCarry), c.segLen)
		if b, ok := seg.(Bytes); ok {
			// Memory: the caller leaves it alone until Send returns,
			// so more of it may go (a streamed carry, read by the
			// receiver's MoveFrom straight from the connection).
			k = min(int64(op.n.cfg.stableCarry(len(m))), c.segLen)
			f.Carry = b[:k]
			f.Stable = k > 0
		} else {
			c.carry = slices.Grow(c.carry[:0], int(k))[:k]
			if err := readSeg(seg, 0, c.carry); err != nil {
				op.finish(c)
				return dst, fmt.Errorf("msg: send: %w", err)
			}
			f.Carry = c.carry
		}
	}
	c.frame, err = f.appendNoCarry(c.frame[:0])
	c.tail = f.Carry
	c.req = f
	if err != nil {
		op.finish(c)
		return dst, fmt.Errorf("msg: send: %w", err)
	}
	op.mu.Lock()
	if op.retired {
		op.mu.Unlock()
		op.finish(c)
		return dst, errRetired
	}
	op.calls.add(c)
	if op.loopStop != nil {
		// The Sends read the session now; stop the loop's read.
		op.loopStop()
		op.loopStop = nil
	}
	op.mu.Unlock()
	op.used.Store(true)

	interval := op.n.cfg.RetransmitInterval
	c.rx = op.mux.Received()
	probing := op.transmit(ctx, c) != nil // a failed send counts as unanswered
	c.fired.Store(false)
	c.timer.Reset(interval)
	if d := ctx.Done(); d != nil {
		c.watch(ctx, d)
	}
	return op.await(ctx, c, dst, probing)
}

// await waits for the reply to c while retransmitting every
// RetransmitInterval. A retransmission that got no answer (neither reply
// nor pending) by the next interval, while no byte at all arrived on the
// session, makes the keeper replace the connection; MaxRetransmits of them
// in a row fail the Send. Bytes still arriving (another Send's long reply
// or move) mean the path works and the answer waits behind them.
//
// The waiting Send reads the session itself, so its reply reaches it
// without a hand-off between goroutines; frames for other calls it
// dispatches to them. It stops reading when woken (c.wait): its reply was
// read by another goroutine, its timer fired or ctx ended.
func (op *outPeer) await(ctx context.Context, c *call, dst []byte, probing bool) ([]byte, error) {
	interval := op.n.cfg.RetransmitInterval
	misses := 0
	for {
		select {
		case rm := <-c.done:
			return op.complete(c, dst, rm)
		default:
		}
		m, err := op.sock.Receive(&c.wait)
		if err == nil {
			if rm := op.dispatch(m, c); rm != nil {
				return op.complete(c, dst, rm)
			}
			continue
		}
		if !errors.Is(err, errWoken) {
			// The session's mux is closed: the peer failed or the
			// node closes; wait for either to be told.
			select {
			case rm := <-c.done:
				return op.complete(c, dst, rm)
			case <-ctx.Done():
			case <-op.dead:
			case <-op.n.closed:
			}
		}
		select {
		case rm := <-c.done:
			return op.complete(c, dst, rm)
		case <-ctx.Done():
			return op.abandon(c, dst, ctx.Err())
		case <-op.dead:
			return op.abandon(c, dst, op.deadErr)
		case <-op.n.closed:
			return op.abandon(c, dst, ErrClosed)
		default:
		}
		c.wait.reset()
		if !c.fired.Swap(false) {
			continue
		}
		// Bytes arriving on the session mean the path works: the answer
		// to the retransmission may be queued behind a long reply or a
		// move's data for another Send.
		rx := op.mux.Received()
		busy := rx != c.rx
		c.rx = rx
		if probing && !c.heard.Load() && !busy {
			misses++
			if misses > op.n.cfg.MaxRetransmits {
				return op.abandon(c, dst, fmt.Errorf("msg: send to %s: %w", op.dest, ErrUnreachable))
			}
			select {
			case op.kick <- struct{}{}:
			default:
			}
		} else {
			misses = 0
		}
		c.heard.Store(false)
		probing = true
		if len(c.tail) > op.n.cfg.MaxCarry {
			// A retransmission carries no more than MaxCarry: the
			// receiver probably has the request (then it skips the
			// carry), and re-sending a long carry every interval
			// would only load the path.
			c.req.Carry = c.tail[:op.n.cfg.MaxCarry]
			c.req.Stable = len(c.req.Carry) > 0
			c.tail = c.req.Carry
			c.frame, _ = c.req.appendNoCarry(c.frame[:0]) // it encoded with a longer carry
		}
		c.frame[7] |= byte(requestRetransmit) // low byte of the big-endian flags
		op.n.stats.retransmits.Add(1)
		tctx, cancel := context.WithTimeout(ctx, interval)
		_ = op.transmit(tctx, c)
		cancel()
		c.timer.Reset(interval)
	}
}

// complete ends a Send with its reply rm.
func (op *outPeer) complete(c *call, dst []byte, rm *wire.Message) ([]byte, error) {
	c.timer.Stop()
	reply, err := op.takeReply(c, dst, rm)
	op.finish(c)
	return reply, err
}

// transmit sends c's request on the session: its carry, if any, in place
// behind the rest of the frame, with one vectored write.
func (op *outPeer) transmit(ctx context.Context, c *call) error {
	if len(c.tail) == 0 {
		return op.sock.Send(ctx, c.frame)
	}
	return op.sock.SendVec(ctx, c.frame, c.tail)
}

// abandon ends a Send that will not wait for its reply. If the reply raced
// in, it is taken after all.
func (op *outPeer) abandon(c *call, dst []byte, cause error) ([]byte, error) {
	c.timer.Stop()
	op.mu.Lock()
	waiting := op.calls.remove(c.seq) != nil
	idle := op.calls.n == 0
	op.mu.Unlock()
	if idle {
		op.wakeLoop() // frames for this Send may still come; someone must read them
	}
	if !waiting {
		rm := <-c.done // dispatch removed it and is handing over the reply
		reply, err := op.takeReply(c, dst, rm)
		op.finish(c)
		return reply, err
	}
	op.finish(c)
	return dst, cause
}

// takeReply decodes the reply rm and writes its segment data, checking the
// grant: a receiver may write only where the Send allowed it.
func (op *outPeer) takeReply(c *call, dst []byte, rm *wire.Message) ([]byte, error) {
	defer rm.Release()
	if rm.Bytes() == nil {
		return op.takeLongReply(c, dst)
	}
	f, _, err := parseReply(rm.Bytes())
	if err != nil {
		op.n.stats.badFrames.Add(1)
		return dst, fmt.Errorf("msg: reply from %s: %w", op.dest, err)
	}
	if f.Status != statusOK {
		return dst, fmt.Errorf("msg: send to %s: %w", op.dest, remoteErr(f.Status, f.Msg))
	}
	if f.HasData {
		// Wait for moves being served to finish, then write alone.
		c.segMu.Lock()
		err := checkGrant(c.access, Write, c.segLen, f.SegOff, int64(len(f.Data)))
		if err == nil {
			err = writeSeg(c.seg, f.SegOff, f.Data)
		} else {
			op.n.stats.grantViolations.Add(1)
		}
		c.segMu.Unlock()
		if err != nil {
			return dst, fmt.Errorf("msg: reply with segment from %s: %w", op.dest, err)
		}
	}
	return append(dst, f.Msg...), nil
}

// takeLongReply ends a Send with a long reply rm, which longReply read
// (c.long holds the outcome).
func (op *outPeer) takeLongReply(c *call, dst []byte) ([]byte, error) {
	lr := &c.long
	switch {
	case lr.err != nil:
		return dst, fmt.Errorf("msg: reply from %s: %w", op.dest, lr.err)
	case lr.f.Status != statusOK:
		return dst, fmt.Errorf("msg: send to %s: %w", op.dest, remoteErr(lr.f.Status, lr.f.Msg))
	}
	return append(dst, lr.f.Msg...), nil
}

// readLongData reads the n bytes of segment data left in rm, c's long
// reply, straight into c's segment at segOff, a file range with splice, if
// the grant allows it; otherwise they are left to rm's Release to skip. If
// the connection breaks in the middle the error is ErrReplyLost: the
// receiver does not keep such replies.
func (op *outPeer) readLongData(c *call, rm *wire.Message, segOff, n int64) error {
	c.segMu.Lock() // wait for moves being served to finish, then write alone
	defer c.segMu.Unlock()
	if err := checkGrant(c.access, Write, c.segLen, segOff, n); err != nil {
		op.n.stats.grantViolations.Add(1)
		return fmt.Errorf("reply with segment data: %w", err)
	}
	got, err := readStream(rm, c.seg, segOff, n, true)
	op.n.stats.replyDataTaken.Add(uint64(got))
	if err != nil {
		return fmt.Errorf("reply with segment data: %w: %w", ErrReplyLost, err)
	}
	return nil
}

// finish waits for moves still being served from c's segment, releases the
// sequence number and recycles c. c is no longer in op.calls.
func (op *outPeer) finish(c *call) {
	c.segMu.Lock()
	c.seg = nil
	c.segMu.Unlock()
	c.movesMu.Lock()
	clear(c.moves)
	c.movesMu.Unlock()
	op.win.release(c.seq)
	c.carry = c.carry[:0]
	c.tail = nil
	c.req = requestFrame{}
	c.long.f, c.long.err = replyFrame{}, nil
	c.wait.reset()
	op.putCall(c)
}
