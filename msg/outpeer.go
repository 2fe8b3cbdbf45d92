// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"encoding/binary"
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

// An outPeer is the sending side of a session: the node's connection to one
// destination address. It owns a wire.Mux whose connections it dials and a
// keeper goroutine that redials when the mux has no connection or a Send's
// retransmissions go unanswered. The waiting Sends read the session's
// frames themselves (call.go: a reply reaches its Send without a hand-off);
// while none waits, the loop goroutine reads them once woken (after an
// abandoned Send, or by the keeper when the session is idle).
type outPeer struct {
	n        *Node
	dest     string
	network  string
	address  string
	session  uint64
	mux      *wire.Mux
	sock     *wire.Socket
	win      *window
	kick     chan struct{}         // asks the keeper to replace the connections; cap 1
	dead     chan struct{}         // closed when the peer gave up (deadErr says why)
	deadErr  error                 // written before dead is closed
	connects atomic.Uint64         // successful dials
	used     atomic.Bool           // a Send started since the keeper last looked
	loopWake chan struct{}         // asks the loop to read while no Send waits; cap 1
	loopHead [moveToHeaderLen]byte // loop only: the head of a streamed frame

	mu         sync.Mutex // guards the following
	calls      callTable
	idle       []*call // calls kept for the next Sends (getCall), at most maxIdleCalls
	idleClosed bool    // the session is over: idle is no longer kept
	conns      []net.Conn
	retired    bool               // idle and closed: Sends must start a new session
	loopStop   context.CancelFunc // ends the loop's read; nil while it does not read
}

// errRetired tells a Send that its session was retired for idleness just
// before the Send could use it; it takes a new one.
var errRetired = errors.New("msg: session retired")

// outPeer returns the session for dest, creating and connecting it.
func (n *Node) outPeer(ctx context.Context, dest, scheme, rest string) (*outPeer, error) {
	n.mu.Lock()
	op := n.out[dest]
	n.mu.Unlock()
	if op != nil {
		return op, nil
	}
	mux, err := wire.NewMux(n.wireConfig())
	if err != nil {
		return nil, fmt.Errorf("msg: %w", err)
	}
	op = &outPeer{
		n: n, dest: dest, network: scheme, address: rest,
		session:  randUint64(),
		mux:      mux,
		sock:     mux.NewSocket(),
		win:      newWindow(n.cfg.Window),
		kick:     make(chan struct{}, 1),
		loopWake: make(chan struct{}, 1),
		dead:     make(chan struct{}),
		calls:    newCallTable(n.cfg.Window),
	}
	if err := op.dial(ctx); err != nil {
		_ = mux.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("msg: connect %s: %w", dest, ctx.Err())
		}
		return nil, err
	}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		_ = mux.Close()
		return nil, ErrClosed
	}
	if other := n.out[dest]; other != nil {
		// Lost a race with another first Send; use the winner's session.
		n.mu.Unlock()
		_ = mux.Close()
		return other, nil
	}
	n.out[dest] = op
	n.mu.Unlock()
	n.goroutine(op.loop)
	n.goroutine(op.keep)
	return op, nil
}

// wireConfig is the mux configuration for the node's sessions.
func (n *Node) wireConfig() wire.Config {
	return wire.Config{
		MaxMessageSize:  n.cfg.wireMaxMessage(),
		StreamThreshold: n.cfg.streamThreshold(),
		OnAbort: func(e *wire.AbortError) {
			n.stats.aborts.Add(1)
			n.cfg.Logger.Debug("msg: connection aborted", "err", e)
		},
	}
}

// minDialTimeout bounds a connection attempt from below: a dial and its
// hello may take longer than a short RetransmitInterval on a loaded host.
const minDialTimeout = time.Second

// dial opens one connection, introduces it with a hello frame and attaches
// it to the mux.
func (op *outPeer) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(op.n.cfg.RetransmitInterval, minDialTimeout))
	defer cancel()
	c, err := op.n.cfg.Dial(ctx, op.network, op.address)
	if err != nil {
		return fmt.Errorf("msg: dial %s: %w", op.dest, err)
	}
	hello, err := helloFrame{Version: ProtocolVersion, Node: op.n.id, Session: op.session, Addr: op.n.Addr()}.Append(nil)
	if err == nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetWriteDeadline(dl)
		}
		_, err = c.Write(hello)
		_ = c.SetWriteDeadline(time.Time{})
	}
	if err == nil {
		err = op.mux.Attach(c)
	}
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("msg: connect %s: %w", op.dest, err)
	}
	op.mu.Lock()
	op.conns = append(op.conns, c)
	op.mu.Unlock()
	op.connects.Add(1)
	op.n.stats.connects.Add(1)
	return nil
}

// keep redials when the mux has lost its connection or a Send found the
// session unresponsive, and gives the session up after MaxRetransmits
// failed dials in a row. A session without Sends for SessionTTL/2, or idle
// and disconnected, is retired (the next Send opens a new one).
func (op *outPeer) keep() {
	tick := op.n.cfg.RetransmitInterval / 2
	t := time.NewTicker(tick)
	defer t.Stop()
	idleLimit := int(op.n.cfg.SessionTTL / 2 / tick)
	fails, idle := 0, 0
	for {
		force := false
		select {
		case <-op.n.ctx.Done():
			return
		case <-op.dead:
			return
		case <-op.kick:
			force = true
		case <-t.C:
			op.mu.Lock()
			busy := op.calls.n > 0
			op.mu.Unlock()
			if op.used.Swap(false) || busy {
				idle = 0
			} else {
				idle++
			}
			if !busy {
				op.wakeLoop()
			}
			attached := op.mux.Stats().Mux.Attached > 0
			if !busy && (!attached || idle >= idleLimit) && op.retire() {
				return
			}
			if attached {
				fails = 0
				continue
			}
		}
		if force {
			op.dropConns()
		}
		if err := op.dial(op.n.ctx); err != nil {
			fails++
			if fails > op.n.cfg.MaxRetransmits {
				op.fail(fmt.Errorf("msg: %s: %w: %w", op.dest, ErrUnreachable, err))
				return
			}
			continue
		}
		fails = 0
	}
}

// retire closes an idle session; false if a Send took it meanwhile.
func (op *outPeer) retire() bool {
	op.mu.Lock()
	if op.calls.n > 0 {
		op.mu.Unlock()
		return false
	}
	op.retired = true
	op.mu.Unlock()
	op.fail(errRetired)
	return true
}

// dropConns detaches and closes the session's connections.
func (op *outPeer) dropConns() {
	op.mu.Lock()
	conns := op.conns
	op.conns = nil
	op.mu.Unlock()
	for _, c := range conns {
		_ = op.mux.Detach(c)
		_ = c.Close()
	}
}

// fail gives the session up: pending Sends fail with err, the mux closes
// and the next Send to dest starts a new session.
func (op *outPeer) fail(err error) {
	op.deadErr = err
	close(op.dead)
	n := op.n
	n.mu.Lock()
	if n.out[op.dest] == op {
		delete(n.out, op.dest)
	}
	n.mu.Unlock()
	_ = op.mux.Close()
	op.closeIdle()
}

// loop reads the session's frames while no Send waits, each time it is
// woken, until a Send starts (which stops its read) or the session ends.
func (op *outPeer) loop() {
	for {
		select {
		case <-op.loopWake:
		case <-op.dead:
			return
		case <-op.n.ctx.Done():
			return
		}
		op.mu.Lock()
		if op.calls.n > 0 {
			op.mu.Unlock()
			continue // the Sends read
		}
		ctx, cancel := context.WithCancel(op.n.ctx)
		op.loopStop = cancel
		op.mu.Unlock()
		for {
			m, err := op.sock.Receive(ctx)
			if err != nil {
				break
			}
			op.dispatch(m, nil)
		}
		cancel()
	}
}

// wakeLoop makes the loop read the session if no Send does.
func (op *outPeer) wakeLoop() {
	select {
	case op.loopWake <- struct{}{}:
	default:
	}
}

// dispatch handles one frame from the receiver. The reply to self (the
// call of the Send that read it) is returned, not delivered.
func (op *outPeer) dispatch(m *wire.Message, self *call) *wire.Message {
	b := m.Bytes()
	if b == nil {
		// Only move-to data and a long reply's data are long enough to
		// be streamed.
		head := op.loopHead[:]
		if self != nil {
			head = self.head[:]
		}
		if _, err := readFull(m, head[:8]); err != nil {
			op.protocolError(m, err)
			return nil
		}
		typ, err := frameTypeOf(head)
		switch {
		case err != nil:
			op.protocolError(m, err)
			return nil
		case typ == frameReply:
			return op.longReply(m, head, self)
		}
		if _, err := readFull(m, head[8:]); err != nil {
			op.protocolError(m, err)
			return nil
		}
		b = head
	}
	typ, err := frameTypeOf(b)
	if err != nil {
		op.protocolError(m, err)
		return nil
	}
	switch typ {
	case frameReply:
		if len(b) < 16 {
			op.protocolError(m, ErrMalformed)
			return nil
		}
		switch c := op.removeCall(binary.BigEndian.Uint64(b[8:])); c {
		case nil:
			m.Release() // a late duplicate
		case self:
			return m
		default:
			c.done <- m // cap 1, and each call gets one reply
			c.wait.wake()
		}
	case framePending:
		f, _, err := parsePending(b)
		if err != nil {
			op.protocolError(m, err)
			return nil
		}
		m.Release()
		op.mu.Lock()
		if c := op.calls.get(f.Seq); c != nil {
			c.heard.Store(true)
		}
		op.mu.Unlock()
	case frameMoveFrom:
		f, _, err := parseMoveFrom(b)
		m.Release()
		if err != nil {
			op.protocolError(nil, err)
			return nil
		}
		c := op.holdCall(f.Seq)
		if c == nil {
			op.sendMoveDone(f.Move, ErrNotAwaitingReply)
			return nil
		}
		if c == self {
			op.serveMoveFrom(c, f) // the Send waits anyway: serve in its goroutine
			return nil
		}
		if !op.n.goroutine(func() { op.serveMoveFrom(c, f) }) {
			c.segMu.RUnlock()
		}
	case frameMoveTo:
		op.receiveMoveTo(m, b)
	default:
		op.protocolError(m, fmt.Errorf("frame type %d from a receiver: %w", typ, ErrProtocol))
	}
	return nil
}

// longReply takes a reply frame m too long to be buffered, whose first 8
// bytes (its header) were read into head: it reads the fixed fields and
// the message into the call's longReply, then the segment data straight
// into the call's segment if the grant allows it (whoever reads the frame
// does, as with move-to frames: the connection does not wait for the
// Send's goroutine to wake). The reply, read, goes to the Send as
// dispatch hands over any reply; the reply to self is returned.
func (op *outPeer) longReply(m *wire.Message, head []byte, self *call) *wire.Message {
	fixed := replyHeadLen(head)
	if _, err := readFull(m, head[8:fixed]); err != nil {
		op.protocolError(m, err)
		return nil
	}
	c := op.removeCall(binary.BigEndian.Uint64(head[8:]))
	if c == nil {
		m.Release() // a late duplicate: its data is skipped
		return nil
	}
	// From here c is this goroutine's until it is handed over: its Send
	// fails with whatever is wrong with the frame.
	lr := &c.long
	f, mlen, dlen, err := parseReplyHead(head[:fixed], m.Len())
	switch {
	case err != nil:
		op.n.stats.badFrames.Add(1)
		lr.err = err
	case mlen > int64(op.n.cfg.MaxMessage):
		lr.err = fmt.Errorf("reply of %d bytes: %w", mlen, ErrMessageTooLarge)
	default:
		lr.msg = slices.Grow(lr.msg[:0], int(mlen))[:mlen]
		if _, lr.err = readFull(m, lr.msg); lr.err == nil && f.Status == statusOK {
			lr.err = op.readLongData(c, m, f.SegOff, dlen)
		}
		f.Msg = lr.msg
		lr.f = f
	}
	if c == self {
		return m
	}
	c.done <- m // cap 1, and each call gets one reply
	c.wait.wake()
	return nil
}

// removeCall takes the call awaiting the reply to seq out of the table,
// for the goroutine that read its reply; nil if no call awaits it.
func (op *outPeer) removeCall(seq uint64) *call {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.calls.remove(seq)
}

// holdCall returns the call awaiting the reply to seq with its segment
// held shared (the caller releases c.segMu.RUnlock), or nil.
func (op *outPeer) holdCall(seq uint64) *call {
	op.mu.Lock()
	defer op.mu.Unlock()
	c := op.calls.get(seq)
	if c != nil {
		c.segMu.RLock()
	}
	return c
}

// protocolError counts a bad frame from the peer and drops it.
func (op *outPeer) protocolError(m *wire.Message, err error) {
	if m != nil {
		m.Release()
	}
	op.n.stats.badFrames.Add(1)
	op.n.cfg.Logger.Debug("msg: bad frame", "dest", op.dest, "err", err)
}

// readFull reads exactly len(p) bytes of a message.
func readFull(m *wire.Message, p []byte) (int, error) {
	k := 0
	for k < len(p) {
		r, err := m.Read(p[k:])
		k += r
		if err != nil && k < len(p) {
			if errors.Is(err, io.EOF) {
				return k, fmt.Errorf("message of %d bytes: %w", m.Len(), ErrMalformed)
			}
			return k, err
		}
	}
	return k, nil
}
