// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"sync"

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
	// prev and next link the target's waiting local Sends (localWaits);
	// guarded by its mutex.
	prev, next *txn
	// remote origin
	in    *inPeer
	seq   uint64
	carry []byte // the segment's first bytes, as received
	// stable: carry stays equal to the segment's first bytes until the
	// reply, so MoveFrom takes it instead of moving it again.
	stable bool
	frame  *wire.Message // the request frame msg and carry point into, until recycled
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
	tx.access, tx.segLen, tx.seq, tx.stable, tx.closed = 0, 0, 0, false, false
	if tx.frame != nil {
		tx.frame.Release()
		tx.frame = nil
	}
	tx.mu.Unlock()
	txnPool.Put(tx)
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
