// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// The send path. A sender queues its request on the chosen connection and,
// if no one is writing to it, becomes the writer: it takes every queued
// request (its own and other senders') and writes them all with one
// vectored write (flat combining). Senders that find a writer at work wait
// for it to report their result. A writer writes at most maxRounds batches
// before handing the job to the next waiting sender, so no caller is kept
// writing for others indefinitely.

// maxRounds bounds the batches one writer writes before handing off.
const maxRounds = 4

// A sendReq is one Send or SendBatch call: its messages leave together, in
// one vectored write, on one connection.
type sendReq struct {
	msgs  [][]byte   // messages not yet written completely (isVec: the parts of one)
	one   [1][]byte  // backing for a single message
	parts [][]byte   // backing for SendVec's parts, reused
	n     int64      // bytes in msgs
	done  chan error // the writer's verdict (capacity 1)
}

var reqPool = sync.Pool{New: func() any { return &sendReq{done: make(chan error, 1)} }}

func getReq() *sendReq { return reqPool.Get().(*sendReq) }

func putReq(r *sendReq) {
	r.one[0] = nil
	clear(r.parts)
	r.parts = r.parts[:0]
	r.msgs = nil
	r.n = 0
	reqPool.Put(r)
}

// send sends req whole on one connection, again on another if its
// connection fails before all of req is written.
func (m *Mux) send(ctx context.Context, s *Socket, req *sendReq) error {
	nmsgs, nbytes := req.count(), req.n
	for {
		c, err := m.pick(ctx, s)
		if err != nil {
			return err
		}
		err = c.submit(ctx, req)
		if errors.Is(err, errGone) {
			continue // detached between pick and submit: nothing was written
		}
		if errors.Is(err, errRetry) {
			if len(req.msgs) == 0 {
				break
			}
			m.txRetries.Add(1)
			s.stats.txRetries.Add(1)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	s.stats.txMsgs.Add(uint64(nmsgs))
	s.stats.txBytes.Add(uint64(nbytes))
	return nil
}

// submit queues req on c and returns once it was written (nil), could not be
// written on c (errRetry), or was withdrawn because ctx ended.
func (c *conn) submit(ctx context.Context, req *sendReq) error {
	n := req.n
	c.load.Add(n)
	defer c.load.Add(-n)
	c.pmu.Lock()
	if c.wdead {
		c.pmu.Unlock()
		return errGone
	}
	c.pending = append(c.pending, req)
	c.pmu.Unlock()
	if c.wmu.TryLock() {
		if c.lastBatch > 1 {
			// Senders were many a moment ago: let goroutines that are
			// about to send (typically receivers just woken by a burst
			// of requests) queue behind us first, so one vectored
			// write carries them all. A lone sender writes at once: a
			// yield costs it a trip through the scheduler, and often a
			// wake-up of an idle thread.
			runtime.Gosched()
		}
		c.combineLocked(nil)
	}
	done := ctx.Done()
	for {
		select {
		case err := <-req.done:
			if errors.Is(err, errHandoff) {
				c.wmu.Lock()
				c.combineLocked(req)
				continue
			}
			return err
		case <-done:
			if c.withdraw(req) {
				return ctx.Err()
			}
			done = nil // being written: wait for the verdict
		}
	}
}

// writeNow is the lone sender's fast path: if nobody is writing to c and
// no request is queued or was recently batched, it writes msg at once, in
// the caller's goroutine, without queueing a request, and reports true once
// msg is completely written. It reports false, having written nothing, when
// the caller must take the queue (another writer, recent batching, a dead
// connection). After a failed write it reports false and failed: c is then
// shut down and the caller sends msg again, whole, through the queue, which
// finds another connection.
func (c *conn) writeNow(msg []byte) (ok, failed bool) {
	if !c.wmu.TryLock() {
		return false, false
	}
	// wdead and pending are written only by wmu holders (pending also by
	// queueing senders, under pmu): an empty queue seen here may fill
	// while we write, and combineLocked below writes what came.
	c.pmu.Lock()
	busy := c.wdead || len(c.pending) > 0
	c.pmu.Unlock()
	if busy || c.lastBatch > 1 {
		c.combineLocked(nil)
		return false, false
	}
	n := int64(len(msg))
	c.load.Add(n)
	c.stats.txWrites.Add(1)
	k, err := c.write(msg)
	c.load.Add(-n)
	if err != nil && k < len(msg) {
		c.failLocked(err)
		return false, true
	}
	c.lastBatch = 1
	c.stats.txMsgs.Add(1)
	c.stats.txBytes.Add(uint64(k))
	c.combineLocked(nil)
	return true, false
}

// failLocked ends writes on c after a failed write outside the queue: the
// queued requests go elsewhere, wmu is unlocked and c is shut down.
func (c *conn) failLocked(err error) {
	c.pmu.Lock()
	c.wdead = true
	pend := c.pending
	c.pending = nil
	c.pmu.Unlock()
	c.stats.txAborts.Add(1) // before unlocking: a concurrent shutdown folds the counters under wmu
	c.wmu.Unlock()
	for _, r := range pend {
		r.done <- errRetry
	}
	c.shutdown(err, false)
}

// withdraw removes req from the pending queue if it is still there.
func (c *conn) withdraw(req *sendReq) bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for i, r := range c.pending {
		if r == req {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// combineLocked writes pending requests, own first if not nil, until none is
// left or maxRounds batches were written, then unlocks wmu. Every wmu holder
// ends here: after unlocking it looks at the queue again, because a sender
// that queued while the lock was held relies on the holder to write for it.
func (c *conn) combineLocked(own *sendReq) {
	for round := 0; ; round++ {
		c.pmu.Lock()
		batch := c.pending
		c.pending = c.spare[:0]
		dead := c.wdead
		c.pmu.Unlock()
		if own != nil {
			batch = append(batch, nil)
			copy(batch[1:], batch)
			batch[0] = own
			own = nil
		}
		var err error
		switch {
		case len(batch) == 0:
		case dead:
			for _, r := range batch {
				r.done <- errRetry
			}
		default:
			c.lastBatch = len(batch)
			err = c.writeLocked(batch)
		}
		clear(batch)
		c.spare = batch[:0]
		if err != nil {
			c.stats.txAborts.Add(1) // before unlocking: a concurrent shutdown folds the counters under wmu
			c.wmu.Unlock()
			c.shutdown(err, false)
			return
		}
		if len(batch) > 0 && round+1 < maxRounds {
			continue
		}
		c.wmu.Unlock()
		c.pmu.Lock()
		var next *sendReq
		if len(c.pending) > 0 {
			if len(batch) > 0 {
				// Hand off: the first waiter becomes the writer.
				next = c.pending[0]
				c.pending = append(c.pending[:0], c.pending[1:]...)
			} else if !c.wmu.TryLock() {
				c.pmu.Unlock()
				return // the new holder writes them
			} else {
				c.pmu.Unlock()
				round = -1
				continue
			}
		}
		c.pmu.Unlock()
		if next != nil {
			next.done <- errHandoff
		}
		return
	}
}

// writeLocked writes batch with one vectored write. On failure, it marks c
// dead, tells each request whether it was written completely (nil) or must
// be retried elsewhere (errRetry, with the written messages removed), sends
// the pending requests elsewhere too, and returns the error.
func (c *conn) writeLocked(batch []*sendReq) error {
	c.iov = c.iov[:0]
	for _, r := range batch {
		c.iov = append(c.iov, r.msgs...)
	}
	c.stats.txWrites.Add(1)
	written, err := c.writev(c.iov)
	clear(c.iov)
	if err == nil {
		var msgs int
		for _, r := range batch {
			msgs += r.count()
			r.done <- nil
		}
		c.stats.txMsgs.Add(uint64(msgs))
		c.stats.txBytes.Add(uint64(written))
		return nil
	}
	c.pmu.Lock()
	c.wdead = true
	pend := c.pending
	c.pending = nil
	c.pmu.Unlock()
	for _, r := range batch {
		if r.isVec() {
			// The parts of one message: it went out whole, or it goes
			// out again whole.
			if written >= r.n {
				written -= r.n
				c.stats.txMsgs.Add(1)
				c.stats.txBytes.Add(uint64(r.n))
				r.done <- nil
			} else {
				written = 0
				r.done <- errRetry
			}
			continue
		}
		k := 0
		for k < len(r.msgs) && int64(len(r.msgs[k])) <= written {
			written -= int64(len(r.msgs[k]))
			r.n -= int64(len(r.msgs[k]))
			if len(r.msgs[k]) > 0 {
				c.stats.txMsgs.Add(1)
				c.stats.txBytes.Add(uint64(len(r.msgs[k])))
			}
			k++
		}
		if k < len(r.msgs) {
			written = 0
		}
		r.msgs = r.msgs[k:]
		if len(r.msgs) == 0 {
			r.done <- nil
		} else {
			r.done <- errRetry
		}
	}
	for _, r := range pend {
		r.done <- errRetry
	}
	return err
}

// isVec reports whether msgs are the parts of one message (SendVec): only
// SendVec fills parts, and it sends nothing if they are all empty.
func (r *sendReq) isVec() bool { return len(r.parts) > 0 }

// count is the number of messages req sends.
func (r *sendReq) count() int {
	if r.isVec() {
		return 1
	}
	return countMsgs(r.msgs)
}

// countMsgs counts the non-empty messages of a batch.
func countMsgs(msgs [][]byte) int {
	n := 0
	for _, b := range msgs {
		if len(b) > 0 {
			n++
		}
	}
	return n
}

// sendFile sends header ++ f[off:off+n] as one message on one connection.
func (m *Mux) sendFile(ctx context.Context, s *Socket, header []byte, f *os.File, off, n int64) error {
	for {
		c, err := m.pick(ctx, s)
		if err != nil {
			return err
		}
		total := int64(len(header)) + n
		c.load.Add(total)
		c.wmu.Lock()
		c.pmu.Lock()
		dead := c.wdead
		c.pmu.Unlock()
		if dead {
			c.wmu.Unlock()
			c.load.Add(-total)
			continue
		}
		connErr, fileErr := c.writeFileLocked(header, f, off, n)
		c.load.Add(-total)
		if connErr == nil && fileErr == nil {
			c.stats.txMsgs.Add(1)
			c.stats.txBytes.Add(uint64(total))
			c.combineLocked(nil)
			s.stats.txMsgs.Add(1)
			s.stats.txBytes.Add(uint64(total))
			return nil
		}
		// The stream's framing is lost either way: abort the connection.
		c.pmu.Lock()
		c.wdead = true
		pend := c.pending
		c.pending = nil
		c.pmu.Unlock()
		c.stats.txAborts.Add(1)
		c.wmu.Unlock()
		for _, r := range pend {
			r.done <- errRetry
		}
		if fileErr != nil {
			c.shutdown(fileErr, false)
			return fileErr
		}
		c.shutdown(connErr, false)
		m.txRetries.Add(1)
		s.stats.txRetries.Add(1)
	}
}

// writeFileLocked writes the header, then the file range: on Linux both in
// one RawConn.Write, the header held back (MSG_MORE) until the range's
// sendfile(2) joins it; by writing and copying otherwise. It tells
// connection errors (retry elsewhere) from file errors (give up).
func (c *conn) writeFileLocked(header []byte, f *os.File, off, n int64) (connErr, fileErr error) {
	c.stats.txWrites.Add(1)
	hn, written, handled, err := sendFileRange(c.nc, header, f, off, n)
	if handled {
		c.stats.txFiles.Add(1)
		switch {
		case err == nil && written == n:
			return nil, nil
		case err == nil:
			return nil, io.ErrUnexpectedEOF
		case hn < len(header) || isConnErr(err):
			return err, nil
		default:
			return nil, err
		}
	}
	if hn < len(header) {
		if _, err := c.write(header[hn:]); err != nil {
			return err, nil
		}
	}
	return copyFileRange(c.nc, f, off+written, n-written)
}

// copyFileRange copies f[off:off+n] to w through a pooled buffer.
func copyFileRange(w io.Writer, f *os.File, off, n int64) (connErr, fileErr error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for n > 0 {
		k, rerr := f.ReadAt(buf[:min(n, int64(len(buf)))], off)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return err, nil
			}
			off += int64(k)
			n -= int64(k)
		}
		if n > 0 && rerr != nil {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, rerr
		}
	}
	return nil, nil
}

// copyBufPool holds buffers for the copying fallbacks.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// isConnErr reports whether err is the connection's fault rather than the
// file's.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOTCONN) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, io.ErrClosedPipe)
}
