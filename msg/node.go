// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// A NodeID names a node. It is chosen at random when the node is created.
type NodeID uint64

// String returns the id in hex.
func (id NodeID) String() string { return fmt.Sprintf("%016x", uint64(id)) }

// A Peer identifies the sender of a request.
type Peer struct {
	ID   NodeID // the sending node
	Addr string // the sender's first listen address; empty if it listens nowhere
}

// A Node is one endpoint: it sends requests, listens on addresses and
// receives the requests sent to them. One per process or component.
//
// A Node is safe for concurrent use. Its zero value is not usable; call
// [NewNode].
type Node struct {
	cfg    Config
	id     NodeID
	reqs   chan reqRef   // requests for Receive, local and remote
	closed chan struct{} // closed by Close
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the node
	stats  counters
	names  nameTable   // Register and Lookup (names.go)
	direct directState // Receive reading a session itself (direct.go)
	local  localWaits  // local Sends waiting for this node's reply (inproc.go)
	// lastInproc is the last in-process destination of a Send (inproc.go).
	lastInproc atomic.Pointer[inprocDest]
	// watch watches the context of the latest local Sends (localwatch.go).
	watch atomic.Pointer[localWatch]

	mu        sync.Mutex // guards the following
	closing   bool
	addrs     []string
	listeners []net.Listener
	inproc    []string
	out       map[string]*outPeer // by destination address
	in        map[uint64]*inPeer  // by session
	lastDone  <-chan struct{}     // of the last local Send without a watch
}

// NewNode returns a node that can send at once and receives once it
// listens.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:    cfg,
		id:     NodeID(randUint64()),
		reqs:   make(chan reqRef, cfg.ReceiveQueue),
		closed: make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		out:    map[string]*outPeer{},
		in:     map[uint64]*inPeer{},
	}
	n.goroutine(n.reapSessions)
	return n, nil
}

// randUint64 returns a random non-zero number.
func randUint64() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// ID returns the node's id.
func (n *Node) ID() NodeID { return n.id }

// Addr returns the node's first listen address, as other nodes reach it
// (with the port a "tcp://host:0" listener got), or "" if it does not
// listen.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.addrs) == 0 {
		return ""
	}
	return n.addrs[0]
}

// Addrs returns all listen addresses of the node.
func (n *Node) Addrs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.addrs...)
}

// goroutine runs f in a goroutine counted in n.wg. It refuses (returns
// false) once Close has begun.
func (n *Node) goroutine(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.goLocked(f)
}

// goLocked is goroutine for a caller that holds n.mu.
func (n *Node) goLocked(f func()) bool {
	if n.closing {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// Listen makes the node receive requests sent to addr: "inproc://NAME",
// "unix:///PATH" or "tcp://HOST:PORT" (port 0 picks one; see [Node.Addr]).
// The node may listen on several addresses; the first is its [Node.Addr].
func (n *Node) Listen(ctx context.Context, addr string) error {
	scheme, rest, err := parseAddr(addr)
	if err != nil {
		return err
	}
	if scheme == schemeInproc {
		if err := inprocRegister(rest, n); err != nil {
			return err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closing {
			inprocUnregister(rest, n)
			return ErrClosed
		}
		n.inproc = append(n.inproc, rest)
		n.addrs = append(n.addrs, addr)
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, scheme, rest)
	if err != nil {
		return fmt.Errorf("msg: listen %s: %w", addr, err)
	}
	if scheme == schemeTCP {
		addr = "tcp://" + ln.Addr().String()
	}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		_ = ln.Close()
		return ErrClosed
	}
	n.listeners = append(n.listeners, ln)
	n.addrs = append(n.addrs, addr)
	n.mu.Unlock()
	if !n.goroutine(func() { n.acceptLoop(ln) }) {
		_ = ln.Close()
		return ErrClosed
	}
	return nil
}

// Close stops listening, closes every connection and session, fails the
// node's pending Sends with [ErrClosed] and waits for the node's
// goroutines. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		n.wg.Wait()
		return nil
	}
	n.closing = true
	close(n.closed)
	n.dropWatchLocked()
	n.local.close()
	n.cancel()
	lns := n.listeners
	names := n.inproc
	var muxes []*wire.Mux
	var ops []*outPeer
	for _, op := range n.out {
		muxes = append(muxes, op.mux)
		ops = append(ops, op)
	}
	for _, in := range n.in {
		muxes = append(muxes, in.mux)
	}
	n.mu.Unlock()
	for _, name := range names {
		inprocUnregister(name, n)
	}
	var errs []error
	for _, ln := range lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for _, m := range muxes {
		_ = m.Close() // closes its connections; errors are the peers' business
	}
	n.wg.Wait()
	for _, op := range ops {
		op.closeIdle() // the calls kept for the next Sends stop watching their contexts
	}
	n.drainRequests()
	return errors.Join(errs...)
}

// drainRequests abandons requests still queued for Receive after Close.
func (n *Node) drainRequests() {
	var wakes []reqRef
	for {
		select {
		case ref := <-n.reqs:
			// A local sender sees n.closed; a remote one retransmits
			// until it gives up. A Serve loop's wake-up is queued
			// again once the queue is empty (serve.go).
			if ref.tx.serve != nil {
				wakes = append(wakes, ref)
			}
		default:
			for _, ref := range wakes {
				ref.tx.serve.passOn(n, ref)
			}
			return
		}
	}
}

// Send sends m to dest and blocks until the reply, which it returns. The
// message is at most [Config.MaxMessage] bytes. The context bounds the
// wait; a cancelled Send may still have been delivered and run once.
func (n *Node) Send(ctx context.Context, dest string, m []byte) ([]byte, error) {
	return n.AppendSend(ctx, nil, dest, m, nil, 0)
}

// SendWithSegment is [Node.Send] with a grant: while the Send waits, the
// receiver may read (rights include [Read]) or write ([Write]) seg with
// [Request.MoveFrom], [Request.MoveTo] and [Request.ReplyWithSegment]. With
// Read, the segment's first bytes travel with the message
// ([Node.ReceiveWithSegment]). The grant ends when the Send returns.
func (n *Node) SendWithSegment(ctx context.Context, dest string, m []byte, seg Segment, rights Access) ([]byte, error) {
	return n.AppendSend(ctx, nil, dest, m, seg, rights)
}

// AppendSend is [Node.SendWithSegment] that appends the reply to dst and
// returns the extended slice, so a caller that reuses dst sends without
// allocating. seg may be nil (no grant; rights must then be 0).
func (n *Node) AppendSend(ctx context.Context, dst []byte, dest string, m []byte, seg Segment, rights Access) ([]byte, error) {
	if len(m) > n.cfg.MaxMessage {
		return dst, fmt.Errorf("msg: send %d bytes: %w", len(m), ErrMessageTooLarge)
	}
	if !rights.valid() || (seg == nil && rights != 0) {
		return dst, fmt.Errorf("msg: grant %v without a segment: %w", rights, ErrAccess)
	}
	if err := checkSegment(seg); err != nil {
		return dst, fmt.Errorf("msg: send: %w", err)
	}
	select {
	case <-n.closed:
		return dst, ErrClosed
	default:
	}
	if len(dest) > len(inprocPrefix) && strings.HasPrefix(dest, inprocPrefix) {
		target := n.lookupInproc(dest)
		if target == nil {
			return dst, fmt.Errorf("msg: send to %s: %w", dest, ErrNoDestination)
		}
		return n.sendLocal(ctx, target, dst, m, seg, rights)
	}
	scheme, rest, err := parseAddr(dest)
	if err != nil {
		return dst, err
	}
	for {
		op, err := n.outPeer(ctx, dest, scheme, rest)
		if err != nil {
			return dst, err
		}
		reply, err := op.send(ctx, dst, m, seg, rights)
		if !errors.Is(err, errRetired) {
			return reply, err
		}
	}
}

// Receive blocks until a request arrives and returns it. The caller must
// answer it with [Request.Reply] or [Request.ReplyWithSegment].
func (n *Node) Receive(ctx context.Context) (*Request, error) {
	r := new(Request)
	if err := n.ReceiveInto(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// ReceiveInto is [Node.Receive] into a caller-owned [Request], so a serving
// loop that reuses r receives without allocating.
func (n *Node) ReceiveInto(ctx context.Context, r *Request) error {
	return n.receiveInto(ctx, r, nil, nil)
}

// receiveInto is ReceiveInto; rc, if not nil, is the caller's receiver for
// direct reads, already woken by the end of ctx, and sl, if not nil, the
// wait of a Serve loop, woken through the queue when ctx ends or the node
// closes (serve.go): waiting on the queue is then a plain receive.
func (n *Node) receiveInto(ctx context.Context, r *Request, rc *receiver, sl *serveLoop) error {
	direct := true
	for {
		if in := n.direct.hot.Load(); in != nil && direct {
			ref, err := n.receiveDirect(ctx, in, rc)
			switch {
			case errors.Is(err, errSessionGone):
				n.direct.hot.CompareAndSwap(in, nil)
				direct = false // wait on the queue until something arrives
			case err != nil:
				return err
			case sl != nil && ref.tx == sl.wake:
				return quitErr(ctx)
			case ref.tx != nil && n.take(ref):
				*r = Request(ref)
				return nil
			}
			continue
		}
		direct = true
		if sl != nil {
			ref, ok := sl.receive(n)
			if !ok {
				return quitErr(ctx)
			}
			if n.take(ref) {
				*r = Request(ref)
				return nil
			}
			continue
		}
		select {
		case ref := <-n.reqs:
			if n.take(ref) {
				*r = Request(ref)
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-n.closed:
			return ErrClosed
		}
	}
}

// quitErr is why a Serve loop ends: its context's error, or ErrClosed.
func quitErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// take reports whether ref is live, and notes its session (nil for a local
// request) for the choice of the hot one that direct receives read
// (direct.go).
func (n *Node) take(ref reqRef) bool {
	tx := ref.tx
	if sl := tx.serve; sl != nil { // another Serve loop's wake-up
		sl.passOn(n, ref)
		return false
	}
	tx.mu.Lock()
	ok := tx.gen == ref.gen && tx.state == txnWaiting
	in := tx.in
	tx.mu.Unlock()
	if ok {
		n.noteRequest(in)
	}
	return ok
}

// ReceiveWithSegment is [Node.Receive] that also copies the first bytes of
// a readable segment into buf: those that travelled with the message, at
// most [Config.MaxCarry] of them (remote), or up to len(buf) (local). It
// returns how many bytes it copied. A remote memory segment travels with
// its message up to [Config.MaxStableCarry] bytes: [Request.MoveFrom] of
// them (from the first byte not copied here, or from the start) reads
// them from the connection with no further round trip.
func (n *Node) ReceiveWithSegment(ctx context.Context, buf []byte) (*Request, int, error) {
	r, err := n.Receive(ctx)
	if err != nil {
		return nil, 0, err
	}
	k, err := r.tx.copyCarry(r.gen, buf)
	if err != nil {
		return nil, 0, err
	}
	return r, k, nil
}

// sessionTTLTick is how often idle sessions are looked for.
func (n *Node) sessionTTLTick() time.Duration { return max(n.cfg.SessionTTL/4, time.Millisecond) }
