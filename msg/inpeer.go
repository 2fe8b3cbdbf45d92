// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// handshakeTimeout bounds the wait for a new connection's hello frame.
const handshakeTimeout = 10 * time.Second

// An inPeer is the receiving side of a session: the state a node keeps for
// one remote sender (the V kernel's alien), across that sender's
// reconnections. It owns the session's wire.Mux (connections are attached as
// they arrive with the session's hello), a reader goroutine, the session's
// request table and its reply cache.
type inPeer struct {
	n      *Node
	hello  helloFrame
	mux    *wire.Mux
	sock   *wire.Socket
	active atomic.Bool         // a frame arrived since the reaper last looked
	idle   int                 // reaper ticks without a frame; reaper only
	head   [dataHeaderLen]byte // loop only: the head of a streamed frame
	wake   chan struct{}       // asks the loop to read; cap 1
	gone   chan struct{}       // closed when the session is forgotten

	ansMu   sync.Mutex   // guards answers and ansOut
	answers []answerItem // answers for shared readers waiting to go out (answer)
	ansOut  bool         // a goroutine is sending answers

	mu         sync.Mutex // guards the following
	floor      uint64     // every request below is complete at the sender
	entries    map[uint64]entry
	fifo       seqQueue // sequence numbers of cached replies, oldest first
	cacheBytes int
	running    int // entries still being served
	moves      map[uint64]*mover
	nextMove   uint64
	readers    int                // Receive calls reading the session (direct.go)
	loopStop   context.CancelFunc // ends the loop's read; nil while it does not read
}

// An entry is the receiver's record of one request of a session.
type entry struct {
	running bool    // delivered and not yet replied to
	lost    bool    // replied, but the reply was evicted from the cache
	reply   *cached // the encoded reply frame
}

// A cached reply frame, shared by the cache and the sends of it in flight;
// refs is guarded by the session's mu.
type cached struct {
	b    []byte
	refs int
}

var cachedPool = sync.Pool{New: func() any { return new(cached) }}

// acceptLoop accepts connections until the listener closes.
func (n *Node) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			n.cfg.Logger.Debug("msg: accept", "err", err)
			select {
			case <-n.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if !n.goroutine(func() { n.handshake(c) }) {
			_ = c.Close()
			return
		}
	}
}

// handshake reads a new connection's hello and attaches the connection to
// its session, creating the session on its first connection.
func (n *Node) handshake(c net.Conn) {
	stop := context.AfterFunc(n.ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	h, err := readHello(c)
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	var in *inPeer
	if err == nil {
		in, err = n.session(h)
	}
	if err == nil {
		err = in.mux.Attach(c)
	}
	if err != nil {
		n.stats.badFrames.Add(1)
		n.cfg.Logger.Debug("msg: refused connection", "remote", c.RemoteAddr(), "err", err)
		_ = c.Close()
	}
}

// readHello reads exactly one hello frame from c, nothing more: the frames
// after it belong to the mux.
func readHello(c net.Conn) (helloFrame, error) {
	var buf [8 + 4 + 1 + 8 + 8 + 2 + maxAddrLen]byte
	if _, err := io.ReadFull(c, buf[:wire.FrameHeaderLen]); err != nil {
		return helloFrame{}, fmt.Errorf("read hello: %w", err)
	}
	h, _, _ := wire.ParseFrameHeader(buf[:])
	if h.Type != frameHello || int(h.Length) > len(buf)-wire.FrameHeaderLen {
		return helloFrame{}, fmt.Errorf("first frame type %d length %d: %w", h.Type, h.Length, ErrMalformed)
	}
	end := wire.FrameHeaderLen + int(h.Length)
	if _, err := io.ReadFull(c, buf[wire.FrameHeaderLen:end]); err != nil {
		return helloFrame{}, fmt.Errorf("read hello: %w", err)
	}
	f, _, err := parseHello(buf[:end])
	return f, err
}

// session returns the session h names, creating it.
func (n *Node) session(h helloFrame) (*inPeer, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if in := n.in[h.Session]; in != nil {
		if in.hello.Node != h.Node {
			return nil, fmt.Errorf("session %x claimed by node %v, was %v: %w", h.Session, h.Node, in.hello.Node, ErrProtocol)
		}
		return in, nil
	}
	if n.closing {
		return nil, ErrClosed
	}
	if len(n.in) >= n.cfg.MaxSessions {
		return nil, fmt.Errorf("%d sessions: %w", len(n.in), ErrBusy)
	}
	mux, err := wire.NewMux(n.wireConfig())
	if err != nil {
		return nil, err
	}
	in := &inPeer{
		n: n, hello: h, mux: mux, sock: mux.NewSocket(),
		floor:   1,
		entries: map[uint64]entry{},
		moves:   map[uint64]*mover{},
		wake:    make(chan struct{}, 1),
		gone:    make(chan struct{}),
	}
	in.wake <- struct{}{} // the loop reads until a Receive takes over
	n.in[h.Session] = in
	n.setHotLocked()
	n.stats.sessions.Add(1)
	n.goLocked(in.loop)
	return in, nil
}

// reapSessions forgets sessions idle for SessionTTL with nothing running,
// and wakes the loops of sessions no Receive reads (direct.go) every half
// RetransmitInterval, so that retransmissions are answered while the
// node's receivers are busy.
func (n *Node) reapSessions() {
	tick := n.sessionTTLTick()
	limit := int(n.cfg.SessionTTL / tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	w := time.NewTicker(max(n.cfg.RetransmitInterval/2, time.Millisecond))
	defer w.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-w.C:
			n.wakeLoops()
			continue
		case <-t.C:
		}
		var idle []*inPeer
		n.mu.Lock()
		for s, in := range n.in {
			if in.active.Swap(false) {
				in.idle = 0
				continue
			}
			in.idle++
			in.mu.Lock()
			running := in.running
			in.mu.Unlock()
			if in.idle >= limit && running == 0 {
				delete(n.in, s)
				idle = append(idle, in)
			}
		}
		if len(idle) > 0 {
			n.setHotLocked()
		}
		n.mu.Unlock()
		for _, in := range idle {
			close(in.gone)
			_ = in.mux.Close()
		}
	}
}

// loop reads the session's frames while no Receive does, each time it is
// woken (direct.go), until a Receive takes over or the session ends.
// Requests it reads go to the node's receive queue.
func (in *inPeer) loop() {
	for {
		select {
		case <-in.wake:
		case <-in.gone:
			return
		case <-in.n.ctx.Done():
			return
		}
		in.mu.Lock()
		if in.readers > 0 {
			in.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(in.n.ctx)
		in.loopStop = cancel
		in.mu.Unlock()
		for {
			m, err := in.sock.Receive(ctx)
			if err != nil {
				break
			}
			in.active.Store(true)
			if ref, _, res := in.dispatch(m, in.head[:], nil, false); res == dispatchRequest {
				in.queue(ref)
			}
		}
		cancel()
	}
}

// wakeLoop makes the loop read the session unless a Receive does.
func (in *inPeer) wakeLoop() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// What dispatch leaves to its caller.
const (
	dispatchDone    = iota // nothing: the frame was handled
	dispatchRequest        // a new request, for the caller to deliver
	dispatchOwn            // a frame of self's move
)

// dispatch handles one frame from the sender, with head as scratch for a
// streamed frame's first bytes. A new request, and a frame of the move
// self (the mover whose goroutine read it), are returned to the caller.
// A shared caller (a Receive, which serves every session of the node) must
// not wait for the session's connection: what it answers goes out from
// another goroutine (answer).
func (in *inPeer) dispatch(m *wire.Message, head []byte, self *mover, shared bool) (reqRef, moveMsg, int) {
	b := m.Bytes()
	if b == nil {
		// Only move data is long enough to be streamed.
		if _, err := readFull(m, head[:dataHeaderLen]); err != nil {
			in.protocolError(m, err)
			return reqRef{}, moveMsg{}, dispatchDone
		}
		b = head[:dataHeaderLen]
	}
	typ, err := frameTypeOf(b)
	if err != nil {
		in.protocolError(m, err)
		return reqRef{}, moveMsg{}, dispatchDone
	}
	switch typ {
	case frameRequest:
		if ref, ok := in.onRequest(m, b, shared); ok {
			return ref, moveMsg{}, dispatchRequest
		}
	case frameData:
		f, _, err := parseDataHead(b, m.Len())
		if err != nil {
			in.protocolError(m, err)
			return reqRef{}, moveMsg{}, dispatchDone
		}
		if mm, own := in.deliver(f.Move, m, b, self); own {
			return reqRef{}, mm, dispatchOwn
		}
	case frameMoveDone:
		f, _, err := parseMoveDone(b)
		if err != nil {
			in.protocolError(m, err)
			return reqRef{}, moveMsg{}, dispatchDone
		}
		if mm, own := in.deliver(f.Move, m, b, self); own {
			return reqRef{}, mm, dispatchOwn
		}
	default:
		in.protocolError(m, fmt.Errorf("frame type %d from a sender: %w", typ, ErrProtocol))
	}
	return reqRef{}, moveMsg{}, dispatchDone
}

func (in *inPeer) protocolError(m *wire.Message, err error) {
	m.Release()
	in.n.stats.badFrames.Add(1)
	in.n.cfg.Logger.Debug("msg: bad frame", "peer", in.hello.Node, "err", err)
}

// onRequest runs the at-most-once rules for one request frame: a new
// request is returned for the caller to deliver; a duplicate of a running one is answered
// "pending", of a completed one with the cached reply; one below the
// sender's acknowledgement is stale and dropped. shared is dispatch's.
//
// A request too long to be buffered (m streamed, b its first bytes) is a
// stable carry longer than MaxCarry: its message is read into the txn and
// the carry is left on the connection for MoveFrom (txn.push).
func (in *inPeer) onRequest(m *wire.Message, b []byte, shared bool) (reqRef, bool) {
	n := in.n
	var (
		f      requestFrame
		err    error
		tx     *txn  // a streamed request's, with its message
		stream int64 // a streamed request's carry length
	)
	if m.Bytes() == nil {
		f, tx, stream, err = in.readStreamed(m, b)
	} else {
		f, _, err = parseRequest(b)
	}
	if err != nil && !errors.Is(err, ErrMessageTooLarge) {
		in.protocolError(m, err)
		return reqRef{}, false
	}
	if err != nil || len(f.Msg) > n.cfg.MaxMessage || (len(f.Carry) > n.cfg.MaxCarry && !f.Stable) {
		in.mu.Lock()
		in.advanceLocked(f.Ack)
		in.mu.Unlock()
		m.Release()
		in.answer(shared, &replyFrame{Seq: f.Seq, Status: statusTooLarge}, nil)
		return reqRef{}, false
	}
	if tx == nil {
		tx = getTxn()
	}
	drop := func() {
		m.Release()
		tx.recycle()
	}
	in.mu.Lock()
	in.advanceLocked(f.Ack)
	if f.Seq < in.floor {
		in.mu.Unlock()
		drop()
		n.stats.stale.Add(1)
		return reqRef{}, false
	}
	if e, ok := in.entries[f.Seq]; ok {
		n.stats.duplicates.Add(1)
		drop()
		switch {
		case e.running:
			in.mu.Unlock()
			n.stats.pendingSent.Add(1)
			in.answer(shared, pendingFrame{Seq: f.Seq}, nil)
		case e.lost:
			in.mu.Unlock()
			in.answer(shared, &replyFrame{Seq: f.Seq, Status: statusReplyLost}, nil)
		default:
			cr := e.reply
			cr.refs++
			in.mu.Unlock()
			n.stats.cachedReplies.Add(1)
			in.answer(shared, nil, cr)
		}
		return reqRef{}, false
	}
	if in.running >= n.cfg.Window {
		in.mu.Unlock()
		drop()
		in.answer(shared, pendingFrame{Seq: f.Seq}, nil) // retransmitted later
		return reqRef{}, false
	}
	in.entries[f.Seq] = entry{running: true}
	in.running++
	in.mu.Unlock()

	tx.mu.Lock()
	tx.state = txnWaiting
	tx.msg = f.Msg[:len(f.Msg):len(f.Msg)]
	if stream > 0 {
		tx.push, tx.pushOff, tx.pushEnd = m, 0, stream
		tx.holdPushLocked(n.cfg.pushHold())
	} else {
		tx.frame = m // msg and carry point into it: no copy
		tx.carry = f.Carry[:len(f.Carry):len(f.Carry)]
	}
	tx.access, tx.segLen, tx.stable = f.Access, f.SegLen, f.Stable
	tx.in, tx.seq = in, f.Seq
	gen := tx.gen
	tx.mu.Unlock()
	if n.answerNameProbe(tx, gen) { // the node's own name handshake (names.go)
		return reqRef{}, false
	}
	return reqRef{tx: tx, gen: gen}, true
}

// readStreamed reads the fixed part and the message of a streamed request
// m, whose first bytes (dataHeaderLen of them) are b, and returns the frame
// (Msg in the returned txn's buffer, no Carry), the txn and the length of
// the carry still on the connection. A request that is not a stable carry
// longer than could be buffered, or whose message is longer than
// MaxMessage, is ErrMessageTooLarge (with the frame's fields), and its
// message is not read.
func (in *inPeer) readStreamed(m *wire.Message, b []byte) (requestFrame, *txn, int64, error) {
	var head [requestSegFixedLen]byte
	fixed := requestFixedLenOf(b)
	k := copy(head[:], b)
	if _, err := readFull(m, head[k:fixed]); err != nil {
		return requestFrame{}, nil, 0, err
	}
	f, _, mlen, clen, err := parseRequestHead(head[:fixed], m.Len())
	if err != nil {
		return requestFrame{}, nil, 0, err
	}
	if !f.Stable || mlen > int64(in.n.cfg.MaxMessage) {
		return f, nil, 0, fmt.Errorf("request of %d bytes: %w", m.Len(), ErrMessageTooLarge)
	}
	tx := getTxn()
	tx.msgBuf = slices.Grow(tx.msgBuf[:0], int(mlen))[:mlen]
	if _, err := readFull(m, tx.msgBuf); err != nil {
		tx.recycle()
		return requestFrame{}, nil, 0, err
	}
	f.Msg = tx.msgBuf
	return f, tx, clen, nil
}

// queue puts a new request on the node's receive queue, or forgets it if
// the queue is full (the sender hears "pending" and retransmits it later).
func (in *inPeer) queue(ref reqRef) {
	n := in.n
	select {
	case n.reqs <- ref:
		n.wakeReceivers()
		return
	default:
	}
	seq := ref.tx.seq
	in.mu.Lock()
	if e, ok := in.entries[seq]; ok && e.running {
		delete(in.entries, seq)
		in.running--
	}
	in.mu.Unlock()
	ref.tx.recycle()
	n.stats.queueFull.Add(1)
	in.sendControl(pendingFrame{Seq: seq})
}

// advanceLocked forgets the requests below ack.
func (in *inPeer) advanceLocked(ack uint64) {
	if ack <= in.floor {
		return
	}
	if ack-in.floor <= uint64(len(in.entries)) {
		for s := in.floor; s < ack; s++ {
			in.dropLocked(s)
		}
	} else {
		for s := range in.entries {
			if s < ack {
				in.dropLocked(s)
			}
		}
	}
	in.floor = ack
	for in.fifo.len() > 0 && in.fifo.front() < ack {
		in.fifo.pop()
	}
}

func (in *inPeer) dropLocked(s uint64) {
	e, ok := in.entries[s]
	if !ok {
		return
	}
	if e.running {
		in.running-- // the sender gave up; the reply will be dropped
	}
	if e.reply != nil {
		in.cacheBytes -= len(e.reply.b)
		in.unrefLocked(e.reply)
	}
	delete(in.entries, s)
}

func (in *inPeer) unrefLocked(cr *cached) {
	cr.refs--
	if cr.refs == 0 {
		cr.b = cr.b[:0]
		cachedPool.Put(cr)
	}
}

// evictLocked drops the oldest cached replies beyond ReplyCacheBytes. Their
// entries stay, marked lost, so a retransmission never runs again.
func (in *inPeer) evictLocked() {
	for in.cacheBytes > in.n.cfg.ReplyCacheBytes && in.fifo.len() > 0 {
		s := in.fifo.pop()
		e, ok := in.entries[s]
		if !ok || e.reply == nil {
			continue
		}
		in.cacheBytes -= len(e.reply.b)
		in.unrefLocked(e.reply)
		e.reply, e.lost = nil, true
		in.entries[s] = e
		in.n.stats.evicted.Add(1)
	}
}

// replyLead returns how many of the n bytes of a reply's segment data go
// ahead of the reply with a move-to: what one reply frame cannot hold, or
// all of it beyond MaxCarry for a sender of a protocol version before 4,
// which could not read a reply longer than it buffers.
func (in *inPeer) replyLead(n int64) int64 {
	switch {
	case n <= int64(in.n.cfg.MaxCarry):
		return 0
	case in.hello.Version < 4:
		return n
	}
	return max(n-MaxFrameData, 0)
}

// reply answers the remote request tx, which is locked and waiting, with m
// and src (nil for a plain reply), to be written into the sender's segment
// at segOff; it unlocks tx. The encoded reply goes into the reply cache
// first, then to the sender. src beyond MaxCarry bytes is sent from where
// it lies and not cached (replyLong).
func (in *inPeer) reply(tx *txn, m []byte, segOff int64, src Segment) error {
	n := in.n
	k := segLen(src)
	if k > int64(n.cfg.MaxCarry) {
		return in.replyLong(tx, m, segOff, src)
	}
	var data []byte
	switch s := src.(type) {
	case nil:
	case Bytes:
		data = s
	default: // a short file range: read into the cached frame
		data = make([]byte, k)
		if err := readSeg(src, 0, data); err != nil {
			tx.mu.Unlock()
			return fmt.Errorf("msg: reply with segment: %w", err)
		}
	}
	seq := tx.seq
	cr := cachedPool.Get().(*cached)
	var err error
	f := replyFrame{Seq: seq, Msg: m, HasData: src != nil, SegOff: segOff, Data: data}
	cr.b, err = f.Append(cr.b[:0])
	if err != nil {
		tx.mu.Unlock()
		cachedPool.Put(cr)
		return fmt.Errorf("msg: reply: %w", err)
	}
	tx.state = txnDone
	tx.mu.Unlock()
	tx.recycle()

	in.mu.Lock()
	e, ok := in.entries[seq]
	if ok && e.running {
		e.running, e.reply = false, cr
		in.entries[seq] = e
		in.running--
		cr.refs = 2 // the cache and the send below
		in.fifo.push(seq)
		in.cacheBytes += len(cr.b)
		in.evictLocked()
	} else {
		ok = false // the sender gave up on it
		cr.refs = 1
	}
	in.mu.Unlock()
	if ok {
		ctx := newTimeout(n.cfg.ReplyTimeout)
		if err := in.sock.Send(ctx, cr.b); err != nil {
			n.stats.undelivered.Add(1) // the retransmission gets it from the cache
		}
		ctx.release()
	}
	in.mu.Lock()
	in.unrefLocked(cr)
	in.mu.Unlock()
	return nil
}

// replyLong answers tx (locked and waiting; unlocked here) with m and the
// k > MaxCarry bytes of src in one frame, sent from where they lie: a file
// range with sendfile behind the frame's head, memory with one vectored
// write. They are not copied into the reply cache. While the reply goes
// out the request's entry stays running, so a retransmission hears
// "pending"; then it is marked lost: a retransmission of a request whose
// reply did not arrive gets ErrReplyLost and never runs it again.
func (in *inPeer) replyLong(tx *txn, m []byte, segOff int64, src Segment) error {
	n := in.n
	seq := tx.seq
	var hb [replyDataFixedLen + 256]byte
	head, err := replyFrame{Seq: seq, Msg: m, HasData: true, SegOff: segOff}.appendHead(hb[:0], src.Len())
	if err != nil {
		tx.mu.Unlock()
		return fmt.Errorf("msg: reply: %w", err)
	}
	tx.state = txnDone
	tx.mu.Unlock()
	tx.recycle() // m may point into its frame: head holds a copy

	in.mu.Lock()
	e, ok := in.entries[seq]
	ok = ok && e.running
	in.mu.Unlock()
	if !ok {
		return nil // the sender gave up on it
	}
	ctx := newTimeout(n.cfg.ReplyTimeout)
	switch s := src.(type) {
	case FileRange:
		err = in.sock.SendFile(ctx, head, s.File, s.Offset, s.Length)
	case Bytes:
		err = in.sock.SendVec(ctx, head, s)
	}
	ctx.release()
	if err != nil {
		n.stats.undelivered.Add(1)
	} else {
		n.stats.repliedData.Add(uint64(src.Len()))
	}
	in.mu.Lock()
	if e, ok := in.entries[seq]; ok && e.running {
		e.running, e.lost = false, true
		in.entries[seq] = e
		in.running--
	}
	in.mu.Unlock()
	if err != nil {
		return fmt.Errorf("msg: reply with segment: %w", err)
	}
	return nil
}

// sendCached sends a cached reply frame again; the caller took a ref.
func (in *inPeer) sendCached(cr *cached) {
	ctx := newTimeout(in.n.cfg.ReplyTimeout)
	_ = in.sock.Send(ctx, cr.b)
	ctx.release()
	in.mu.Lock()
	in.unrefLocked(cr)
	in.mu.Unlock()
}

// maxQueuedAnswers bounds the answers for shared readers waiting to go
// out on one session; beyond it they are dropped (counted in
// Stats.AnswersDropped) and the sender's retransmission recovers them.
const maxQueuedAnswers = 16

// An answerItem is an encoded control frame or a cached reply (with a ref
// taken) to send to a session's sender.
type answerItem struct {
	b  []byte
	cr *cached
}

// answer sends the control frame f, or the cached reply cr (the caller
// took a ref), to the sender. A shared caller does not wait for the send:
// the answer is queued (at most maxQueuedAnswers per session) and goes out
// from one goroutine of the node per session, in order. Otherwise a
// Receive would stop reading for every session of the node while one
// session's connection is gone (a send waits ReplyTimeout for a
// connection) or full.
func (in *inPeer) answer(shared bool, f frame, cr *cached) {
	switch {
	case !shared && cr != nil:
		in.sendCached(cr)
		return
	case !shared:
		in.sendControl(f)
		return
	}
	a := answerItem{cr: cr}
	if cr == nil {
		var err error
		if a.b, err = f.Append(nil); err != nil {
			return
		}
	}
	in.ansMu.Lock()
	if len(in.answers) >= maxQueuedAnswers {
		in.ansMu.Unlock()
		in.dropAnswers(a)
		return
	}
	in.answers = append(in.answers, a)
	if in.ansOut {
		in.ansMu.Unlock()
		return
	}
	in.ansOut = true
	in.ansMu.Unlock()
	if !in.n.goroutine(in.sendAnswers) {
		// The node is closing: nothing will send them.
		in.ansMu.Lock()
		q := in.answers
		in.answers, in.ansOut = nil, false
		in.ansMu.Unlock()
		in.dropAnswers(q...)
	}
}

// sendAnswers sends the queued answers in order until none is left.
func (in *inPeer) sendAnswers() {
	for {
		in.ansMu.Lock()
		if len(in.answers) == 0 {
			in.answers, in.ansOut = in.answers[:0], false
			in.ansMu.Unlock()
			return
		}
		a := in.answers[0]
		in.answers = append(in.answers[:0], in.answers[1:]...)
		in.ansMu.Unlock()
		if a.cr != nil {
			in.sendCached(a.cr)
			continue
		}
		ctx := newTimeout(in.n.cfg.ReplyTimeout)
		_ = in.sock.Send(ctx, a.b)
		ctx.release()
	}
}

// dropAnswers counts answers that will not be sent and gives back their
// cached replies' refs.
func (in *inPeer) dropAnswers(q ...answerItem) {
	for _, a := range q {
		in.n.stats.answersDropped.Add(1)
		if a.cr != nil {
			in.mu.Lock()
			in.unrefLocked(a.cr)
			in.mu.Unlock()
		}
	}
}

// sendControl sends a small frame to the sender, best effort: a lost one
// is recovered by the sender's retransmission.
func (in *inPeer) sendControl(f frame) {
	var buf [64]byte
	b, err := f.Append(buf[:0])
	if err != nil {
		return
	}
	ctx := newTimeout(in.n.cfg.ReplyTimeout)
	_ = in.sock.Send(ctx, b)
	ctx.release()
}

// A seqQueue is a FIFO of sequence numbers that reuses its array.
type seqQueue struct {
	q    []uint64
	head int
}

func (q *seqQueue) len() int      { return len(q.q) - q.head }
func (q *seqQueue) front() uint64 { return q.q[q.head] }

func (q *seqQueue) push(s uint64) {
	if q.head > 0 && q.head >= len(q.q)/2 {
		q.q = q.q[:copy(q.q, q.q[q.head:])]
		q.head = 0
	}
	q.q = append(q.q, s)
}

func (q *seqQueue) pop() uint64 {
	s := q.q[q.head]
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return s
}
