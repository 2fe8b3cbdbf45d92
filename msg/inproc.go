// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// inprocNodes maps the names of "inproc://NAME" addresses to their nodes.
// It is process-wide, like the port space of a host. gen grows with every
// change of m, so a sender's cached lookup (inprocDest) knows when it is
// stale.
var inprocNodes struct {
	sync.RWMutex // guards m
	m            map[string]*Node
	gen          atomic.Uint64
}

// An inprocDest is a node's last resolved "inproc://" destination.
type inprocDest struct {
	addr   string
	target *Node // nil: no such node
	gen    uint64
}

// inprocPrefix starts every in-process address.
const inprocPrefix = schemeInproc + "://"

// lookupInproc resolves the in-process address addr ("inproc://NAME"),
// through n's cache of the last one: a serving loop's Sends to one
// destination neither parse its address nor lock the table.
func (n *Node) lookupInproc(addr string) *Node {
	gen := inprocNodes.gen.Load()
	if d := n.lastInproc.Load(); d != nil && d.gen == gen && d.addr == addr {
		return d.target
	}
	target := inprocLookup(strings.TrimPrefix(addr, inprocPrefix))
	n.lastInproc.Store(&inprocDest{addr: addr, target: target, gen: gen})
	return target
}

func inprocRegister(name string, n *Node) error {
	inprocNodes.Lock()
	defer inprocNodes.Unlock()
	if _, ok := inprocNodes.m[name]; ok {
		return fmt.Errorf("msg: listen inproc://%s: address in use: %w", name, ErrBadAddress)
	}
	if inprocNodes.m == nil {
		inprocNodes.m = map[string]*Node{}
	}
	inprocNodes.m[name] = n
	inprocNodes.gen.Add(1)
	return nil
}

func inprocUnregister(name string, n *Node) {
	inprocNodes.Lock()
	defer inprocNodes.Unlock()
	if inprocNodes.m[name] == n {
		delete(inprocNodes.m, name)
		inprocNodes.gen.Add(1)
	}
}

func inprocLookup(name string) *Node {
	inprocNodes.RLock()
	defer inprocNodes.RUnlock()
	return inprocNodes.m[name]
}

// sendLocal hands a request to a node in this process: the request is a
// pooled txn passed through target's queue, the reply comes back through the
// txn's done channel, and moves copy directly between the segments.
func (n *Node) sendLocal(ctx context.Context, target *Node, dst, m []byte, seg Segment, rights Access) ([]byte, error) {
	tx := getTxn()
	tx.mu.Lock()
	tx.state = txnWaiting
	tx.msg = m
	tx.seg = seg
	tx.access = rights
	tx.segLen = segLen(seg)
	tx.dst = dst
	tx.sender = n
	gen := tx.gen
	tx.mu.Unlock()

	// The target's Close answers tx with an error (localWaits), so the
	// wait below selects on one channel fewer; and the end of ctx, if a
	// watch is kept for it (localwatch.go), wakes it too: no select.
	var w *localWatch
	done := ctx.Done()
	if done != nil {
		if w = n.watchFor(ctx, done); w != nil && !w.enter(tx) {
			w = nil
		}
	}
	if !target.local.add(tx) {
		abandonLocal(nil, tx, w)
		return dst, errDestClosed
	}
	if err := queueLocal(ctx, target, reqRef{tx: tx, gen: gen}); err != nil {
		abandonLocal(target, tx, w)
		return dst, err
	}
	var err error
	if done == nil || w != nil {
		<-tx.done
		if w != nil {
			w.leave(tx)
		}
		if tx.cancelled { // withdrawn by the watch: the receiver's handle is stale
			target.local.remove(tx)
			tx.recycle()
			return dst, ctx.Err()
		}
	} else {
		select {
		case <-tx.done:
		case <-done:
			err = ctx.Err()
		}
	}
	target.local.remove(tx)
	if err != nil {
		tx.mu.Lock()
		if tx.state == txnWaiting {
			// Withdraw the request; the receiver's handle goes stale.
			tx.state = txnDone
			tx.mu.Unlock()
			tx.recycle()
			return dst, err
		}
		tx.mu.Unlock()
		<-tx.done // Reply (or the target's Close) won the race
	}
	reply, closed := tx.reply, tx.closed // written before tx.done was signalled
	tx.recycle()
	if closed {
		return dst, errDestClosed
	}
	return reply, nil
}

// abandonLocal recycles tx, not queued, after it leaves target's waits (if
// target is not nil) and w (if not nil), taking the signal the target's
// Close or the watch may have left on its done channel meanwhile: both
// signal under the mutex of their list.
func abandonLocal(target *Node, tx *txn, w *localWatch) {
	if target != nil {
		target.local.remove(tx)
	}
	if w != nil {
		w.leave(tx)
	}
	tx.mu.Lock()
	signalled := tx.state != txnWaiting
	tx.mu.Unlock()
	if signalled {
		<-tx.done
	}
	tx.recycle()
}

// errDestClosed fails a local Send whose destination closed.
var errDestClosed = fmt.Errorf("msg: send: destination %w", ErrClosed)

// localWaits are the local Sends waiting for a node's reply: its Close
// answers them with ErrClosed.
type localWaits struct {
	mu     sync.Mutex // guards the following and the txns' waits links
	list   txnList
	closed bool
}

// add registers tx as waiting; false once the node closed.
func (w *localWaits) add(tx *txn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.list.push(tx, waitLinks)
	return true
}

// remove unregisters tx, if it is registered.
func (w *localWaits) remove(tx *txn) {
	w.mu.Lock()
	w.list.remove(tx, waitLinks)
	w.mu.Unlock()
}

// close answers every waiting local Send with ErrClosed and refuses new
// ones.
func (w *localWaits) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.list.answer(waitLinks, func(tx *txn) { tx.closed = true })
}

// queueLocal puts a local request on target's receive queue, waiting while
// it is full. The first try is a plain channel send, cheaper than a select.
func queueLocal(ctx context.Context, target *Node, ref reqRef) error {
	select {
	case target.reqs <- ref:
	default:
		select {
		case target.reqs <- ref:
		case <-ctx.Done():
			return ctx.Err()
		case <-target.closed:
			return errDestClosed
		}
	}
	target.wakeReceivers()
	return nil
}
