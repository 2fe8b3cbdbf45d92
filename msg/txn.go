// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"slices"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// txn states.
const (
	txnIdle    uint8 = iota // in the pool
	txnWaiting              // delivered or queued; the sender awaits the reply
	txnDone                 // replied or withdrawn
)

// A txn is one request as its receiver sees it: the receiving side's
// "alien" of the V kernel. Txns are pooled; gen tells a recycled txn from the
// one a [Request] handle was given, so a stale handle gets
// ErrNotAwaitingReply instead of touching someone else's request.
//
// A local txn (sender != nil) points at the sender's message, segment and
// reply buffer, which stay valid while the sender waits. A remote txn
// (in != nil) holds the received request frame, which its message and the
// carried segment bytes point into (no copy), until it is recycled.
type txn struct {
	done chan struct{} // local: signalled once by Reply; cap 1
	// serve is set, for good, only in a Serve loop's wake-up, which is
	// never a request (serve.go); nil in every pooled txn.
	serve *serveLoop

	mu     sync.Mutex // guards the following
	gen    uint64
	state  uint8
	msg    []byte
	access Access
	segLen int64
	// local origin
	sender *Node
	seg    Segment
	dst    []byte // sender's reply buffer
	reply  []byte // dst with the reply appended
	closed bool   // the destination closed instead of replying
	// cancelled: the Send's context ended before the reply (localWatch).
	cancelled bool
	// waits links the target's waiting local Sends (localWaits), watch
	// the local Sends waiting under one context (localWatch); each is
	// guarded by its list owner's mutex.
	waits, watch txnLinks
	// remote origin
	in    *inPeer
	seq   uint64
	carry []byte // the segment's first bytes, as received
	// stable: carry stays equal to the segment's first bytes until the
	// reply, so MoveFrom takes it instead of moving it again.
	stable bool
	frame  *wire.Message // the request frame msg and carry point into, until recycled
	// A streamed carry (a stable carry too long to be buffered) stays on
	// the request's connection, which reads nothing else meanwhile, until
	// a MoveFrom reads it straight into its destination, the request is
	// answered, or the hold expires (push is then released: the rest is
	// skipped). pushOff is the segment offset of its next byte, pushEnd
	// the offset after it.
	push             *wire.Message
	pushOff, pushEnd int64
	hold             *time.Timer   // releases an untaken push; created on first use
	holdArmed        bool          // hold is pending (stopped only by its own run)
	holdGen          uint64        // the generation of the push held
	holdUntil        time.Duration // when the push held expires, on monoClock
	holdFire         time.Duration // when hold runs, if armed, on monoClock
	msgBuf           []byte        // a streamed request's message, read from the stream
	carryBuf         []byte        // the first bytes of a streamed carry, read by ReceiveWithSegment
}

// A reqRef is a txn with the generation it had when it was queued.
type reqRef struct {
	tx  *txn
	gen uint64
}

var txnPool = sync.Pool{New: func() any { return &txn{done: make(chan struct{}, 1)} }}

func getTxn() *txn { return txnPool.Get().(*txn) }

// recycle invalidates every handle to tx and returns it to the pool.
func (tx *txn) recycle() {
	tx.mu.Lock()
	tx.gen++
	tx.state = txnIdle
	tx.msg, tx.seg, tx.dst, tx.reply, tx.carry = nil, nil, nil, nil, nil
	tx.sender, tx.in = nil, nil
	tx.access, tx.segLen, tx.seq, tx.stable, tx.closed, tx.cancelled = 0, 0, 0, false, false, false
	if tx.frame != nil {
		tx.frame.Release()
		tx.frame = nil
	}
	push := tx.push
	tx.push, tx.pushOff, tx.pushEnd = nil, 0, 0
	// A pending hold stays armed: it finds nothing to expire and stops.
	if cap(tx.msgBuf) > maxPooledBuf {
		tx.msgBuf = nil
	}
	if cap(tx.carryBuf) > maxPooledBuf {
		tx.carryBuf = nil
	}
	tx.mu.Unlock()
	if push != nil {
		push.Release() // the connection skips the rest of the carry
	}
	txnPool.Put(tx)
}

// maxPooledBuf bounds each buffer a pooled txn keeps.
const maxPooledBuf = 64 << 10

// holdPushLocked starts the hold of tx's streamed carry: after d, if no
// MoveFrom took it, it is released. tx.mu is held.
//
// The timer is not stopped when a carry is taken, nor reset for each new
// one while it is pending (unless the new one expires first): it runs at
// most about once per hold time and re-arms itself for the carry held
// then, if any. Reset for every request, a few hundred microseconds apart
// in a stream of moves, it cost each one a timer update that the runtime
// may follow with the wake-up of another thread (wakeNetPoller); a
// stream of 1 MiB MoveFroms measured faster without (docs/benchmarks.md).
func (tx *txn) holdPushLocked(d time.Duration) {
	tx.holdGen = tx.gen
	tx.holdUntil = monoClock() + d
	switch {
	case tx.hold == nil:
		tx.hold = time.AfterFunc(d, tx.expirePush)
	case !tx.holdArmed || tx.holdUntil < tx.holdFire:
		tx.hold.Reset(d)
	default:
		return // its run re-arms it for holdUntil
	}
	tx.holdArmed, tx.holdFire = true, tx.holdUntil
}

// monoStart is the origin of monoClock.
var monoStart = time.Now()

// monoClock reads the monotonic clock.
func monoClock() time.Duration { return time.Since(monoStart) }

// expirePush is the hold timer's run: it releases a streamed carry nobody
// took in time, so its connection goes on (a MoveFrom after it moves the
// bytes with a move-from instead), or waits again for a carry held since
// the timer was armed.
func (tx *txn) expirePush() {
	tx.mu.Lock()
	m := tx.push
	if m == nil || tx.gen != tx.holdGen {
		tx.holdArmed = false
		tx.mu.Unlock()
		return
	}
	if left := tx.holdUntil - monoClock(); left > 0 {
		tx.hold.Reset(left)
		tx.holdFire = tx.holdUntil
		tx.mu.Unlock()
		return
	}
	tx.holdArmed = false
	tx.push = nil
	in := tx.in
	tx.mu.Unlock()
	m.Release()
	if in != nil {
		in.n.stats.carriesExpired.Add(1)
	}
}

// takePushLocked removes the streamed carry from tx for the caller, which
// then owns it (reads it, releases it or gives it back with
// givePushBack). tx.mu is held.
func (tx *txn) takePushLocked() *wire.Message {
	m := tx.push
	tx.push = nil // a pending hold finds nothing and stops
	return m
}

// givePushBack returns a partly read streamed carry to tx, positioned at
// segment offset off, with a new hold; if tx was answered meanwhile it is
// released instead.
func (tx *txn) givePushBack(gen uint64, m *wire.Message, off int64, d time.Duration) {
	tx.mu.Lock()
	if tx.gen != gen || tx.state != txnWaiting || tx.push != nil || off >= tx.pushEnd {
		tx.mu.Unlock()
		m.Release()
		return
	}
	tx.push, tx.pushOff = m, off
	tx.holdPushLocked(d)
	tx.mu.Unlock()
}

// lockWaiting locks tx and checks that the handle's generation is current
// and the sender waits. On error tx is unlocked.
func (tx *txn) lockWaiting(gen uint64) error {
	tx.mu.Lock()
	if tx.gen != gen || tx.state != txnWaiting {
		tx.mu.Unlock()
		return ErrNotAwaitingReply
	}
	return nil
}

// copyCarry copies the segment's first bytes into buf.
func (tx *txn) copyCarry(gen uint64, buf []byte) (int, error) {
	if err := tx.lockWaiting(gen); err != nil {
		return 0, err
	}
	defer tx.mu.Unlock()
	if tx.in != nil {
		if tx.push == nil || tx.pushOff != 0 {
			return copy(buf, tx.carry), nil
		}
		// A streamed carry: its first bytes (at most MaxCarry) are
		// read from the stream and kept as a buffered carry, so that a
		// MoveFrom takes them from there and the rest from the stream.
		k := min(int64(len(buf)), int64(tx.in.n.cfg.MaxCarry), tx.pushEnd)
		tx.carryBuf = slices.Grow(tx.carryBuf[:0], int(k))[:k]
		got, err := readStream(tx.push, Bytes(tx.carryBuf), 0, k, false)
		tx.carry = tx.carryBuf[:got:got]
		tx.pushOff = got
		if err != nil || got == tx.pushEnd {
			m := tx.takePushLocked()
			m.Release()
		}
		return copy(buf, tx.carry), nil
	}
	if tx.access&Read == 0 || tx.seg == nil {
		return 0, nil
	}
	k := min(int64(len(buf)), tx.segLen)
	if err := readSeg(tx.seg, 0, buf[:k]); err != nil {
		return 0, err
	}
	return int(k), nil
}

// txnLinks link a txn into one intrusive list of local Sends.
type txnLinks struct{ prev, next *txn }

// txnList is an intrusive doubly linked list of txns, through the links
// that its functions' links argument picks in each txn. Its owner's mutex
// guards it and those links.
type txnList struct{ head *txn }

func waitLinks(tx *txn) *txnLinks  { return &tx.waits }
func watchLinks(tx *txn) *txnLinks { return &tx.watch }

// push puts tx first.
func (l *txnList) push(tx *txn, links func(*txn) *txnLinks) {
	*links(tx) = txnLinks{next: l.head}
	if l.head != nil {
		links(l.head).prev = tx
	}
	l.head = tx
}

// remove unlinks tx, if it is in the list.
func (l *txnList) remove(tx *txn, links func(*txn) *txnLinks) {
	k := links(tx)
	switch {
	case k.prev != nil:
		links(k.prev).next = k.next
	case l.head == tx:
		l.head = k.next
	}
	if k.next != nil {
		links(k.next).prev = k.prev
	}
	*k = txnLinks{}
}

// answer ends the wait of every txn in the list that still waits: it marks
// it done, lets mark record why (with tx.mu held) and signals its done
// channel. One already answered (by Reply, or by the other list) is left
// alone: its done channel has its one signal (cap 1), and its Send leaves
// the lists only after taking it.
func (l *txnList) answer(links func(*txn) *txnLinks, mark func(tx *txn)) {
	for tx := l.head; tx != nil; tx = links(tx).next {
		tx.mu.Lock()
		if tx.state != txnWaiting {
			tx.mu.Unlock()
			continue
		}
		tx.state = txnDone
		mark(tx)
		tx.mu.Unlock()
		tx.done <- struct{}{}
	}
}
