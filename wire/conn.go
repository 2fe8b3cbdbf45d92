// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a read deadline in the past: setting it wakes a blocked
// Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// A conn is one attached connection ("psock" in KCM): its reader goroutine's
// state and its write side.
//
// Lock order: Mux.mu is never held while acquiring wmu; pmu is innermost.
type conn struct {
	m     *Mux
	nc    net.Conn
	id    int
	load  atomic.Int64 // bytes queued or being written
	stats connCounters

	stopping   atomic.Bool   // set before stop is closed and the read deadline moved
	stop       chan struct{} // closed when the connection is detached or aborted
	readerDone chan struct{} // closed when the reader goroutine returns
	streamDone chan struct{} // a streamed message was released (capacity 1)

	wmu   sync.Mutex // held while writing to nc; guards the following fields
	iov   [][]byte   // backing array of the vectored write
	wv    net.Buffers
	spare []*sendReq // the previous batch's slice, reused as the next pending queue

	pmu     sync.Mutex // guards the following fields
	pending []*sendReq // waiting for the wmu holder to write them
	wdead   bool       // no more writes: detached or failed
}

func newConn(m *Mux, nc net.Conn, id int) *conn {
	return &conn{
		m:          m,
		nc:         nc,
		id:         id,
		stop:       make(chan struct{}),
		readerDone: make(chan struct{}),
		streamDone: make(chan struct{}, 1),
	}
}

// shutdown detaches c from its mux: it stops the reader, waits for it unless
// called from it, stops writes after the one in progress, and sends pending
// messages elsewhere. With a non-nil cause the connection is aborted: closed
// and reported to OnAbort. It reports false if c was no longer attached.
func (c *conn) shutdown(cause error, fromReader bool) bool {
	m := c.m
	m.mu.Lock()
	ok := m.removeLocked(c)
	m.mu.Unlock()
	if !ok {
		return false
	}
	c.stopping.Store(true)
	close(c.stop)
	abort := cause != nil
	if abort {
		_ = c.nc.Close()
	} else {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	if !fromReader {
		<-c.readerDone
	}

	c.wmu.Lock()
	c.pmu.Lock()
	c.wdead = true
	pend := c.pending
	c.pending = nil
	c.pmu.Unlock()
	c.wmu.Unlock()
	for _, r := range pend {
		r.done <- errRetry
	}

	if !abort {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	m.retiredConns.add(c.stats.snapshot())
	m.detaches.Add(1)
	if abort {
		m.aborts.Add(1)
		if m.cfg.OnAbort != nil {
			m.cfg.OnAbort(&AbortError{Conn: c.nc, Err: cause})
		}
	}
	return true
}

// readLoop is the connection's reader goroutine, owned by the mux.
func (c *conn) readLoop() {
	defer c.m.wg.Done()
	defer close(c.readerDone)
	r := reader{c: c, buf: make([]byte, c.m.cfg.ReadBufferSize)}
	err := r.run()
	switch {
	case errors.Is(err, errStopped):
		// Whoever stopped the reader completes the shutdown.
	case err == io.EOF:
		c.shutdown(nil, true) // closed between messages: simply detached
	default:
		c.stats.rxAborts.Add(1)
		c.shutdown(err, true)
	}
}

// reader is the state of a connection's reader goroutine.
type reader struct {
	c          *conn
	buf        []byte
	start, end int   // buf[start:end] holds unconsumed bytes
	want       int   // total length of the message at start, 0 while unknown
	seen       int   // bytes the parser had when it last asked for more
	skip       int64 // bytes of a released stream still to discard
	dlSet      bool  // a read deadline is set on the connection
	dlFresh    bool  // the deadline belongs to the current message
	afterLarge bool  // the last message was read by readLarge
}

// A message of which at least 1/directFraction of the read buffer is still
// unread is read straight into its own buffer; after such a message the
// next read is limited to peekSize bytes.
const (
	directFraction = 4
	peekSize       = 512
)

// run reads and cuts messages until an error or a stop.
func (r *reader) run() error {
	for {
		if err := r.cut(); err != nil {
			return err
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// cut delivers every complete message held in the buffer.
func (r *reader) cut() error {
	c := r.c
	for r.skip == 0 && r.start < r.end {
		head := r.buf[r.start:r.end]
		if r.want == 0 {
			n, err := r.parse(head)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			r.want = n
		}
		if r.want > len(head) {
			break
		}
		msg := getMessage(r.want)
		copy(msg.buf, head[:r.want])
		c.stats.rxMsgs.Add(1)
		c.stats.rxBytes.Add(uint64(r.want))
		r.start += r.want
		r.want, r.seen, r.dlFresh = 0, 0, false
		waited, err := c.push(msg)
		if err != nil {
			return err
		}
		if waited {
			// The time spent waiting for a receiver is ours, not the
			// peer's: restart the clock of a partial next message.
			r.dlFresh = false
		}
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return nil
}

// parse runs the parser on head and enforces the length rules.
func (r *reader) parse(head []byte) (int, error) {
	c := r.c
	n, err := c.m.parser.Parse(head)
	switch {
	case err != nil:
		if errors.Is(err, ErrBadLength) {
			c.stats.rxBadLen.Add(1)
		} else {
			c.stats.rxParserErrors.Add(1)
		}
		return 0, &ParserError{Err: err}
	case n < 0 || (n > 0 && n <= r.seen):
		c.stats.rxBadLen.Add(1)
		return 0, fmt.Errorf("%w: parser returned %d with %d bytes seen", ErrBadLength, n, r.seen)
	case n == 0:
		c.stats.rxNeedMore.Add(1)
		r.seen = len(head)
		if len(head) >= c.m.cfg.MaxMessageSize {
			c.stats.rxTooBig.Add(1)
			return 0, fmt.Errorf("%w: no length after %d bytes", ErrMessageTooLarge, len(head))
		}
		return 0, nil
	case n > c.m.cfg.MaxMessageSize:
		c.stats.rxTooBig.Add(1)
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, c.m.cfg.MaxMessageSize)
	}
	return n, nil
}

// push queues msg for the sockets, waiting while the queue is full: this is
// where back-pressure stops the reader.
func (c *conn) push(msg *Message) (waited bool, err error) {
	select {
	case c.m.ready <- msg:
		return false, nil
	default:
	}
	select {
	case c.m.ready <- msg:
		return true, nil
	case <-c.stop:
		c.stats.rxReadyDrops.Add(1)
		msg.Release()
		return true, errStopped
	}
}

// fill reads more bytes (or reads a long message in its own way).
func (r *reader) fill() error {
	c := r.c
	if r.skip > 0 {
		if err := r.setDeadline(true); err != nil {
			return err
		}
		k, err := c.nc.Read(r.buf[:min(r.skip, int64(len(r.buf)))])
		r.skip -= int64(k)
		if r.skip == 0 {
			r.dlFresh = false
		}
		if err != nil {
			return r.readErr(err)
		}
		return nil
	}
	if r.want > 0 {
		switch {
		case r.want >= c.m.cfg.StreamThreshold:
			return r.stream()
		case r.want > len(r.buf) || r.want-(r.end-r.start) >= len(r.buf)/directFraction:
			// Most of the message is still to come: read it straight
			// into its own buffer instead of copying it out of ours.
			return r.readLarge()
		case r.want > len(r.buf)-r.start:
			r.compact()
		}
	} else if r.end == len(r.buf) {
		if r.start == 0 {
			c.stats.rxBadLen.Add(1)
			return fmt.Errorf("%w: parser found no length in %d bytes", ErrBadLength, len(r.buf))
		}
		r.compact()
	}
	if err := r.setDeadline(r.start < r.end); err != nil {
		return err
	}
	into := r.buf[r.end:]
	if r.afterLarge && r.start == r.end && len(into) > peekSize {
		// Large messages tend to follow large messages: read just the
		// head of the next one, so its body can go straight to its own
		// buffer (readLarge). Small messages cost one extra read.
		into = into[:peekSize]
	}
	r.afterLarge = false
	k, err := c.nc.Read(into)
	if k > 0 {
		r.end += k
		c.stats.rxReads.Add(1)
	}
	if err != nil {
		if k > 0 {
			if cerr := r.cut(); cerr != nil {
				return cerr
			}
		}
		return r.readErr(err)
	}
	return nil
}

// compact moves the unconsumed bytes to the front of the buffer.
func (r *reader) compact() {
	n := copy(r.buf, r.buf[r.start:r.end])
	r.start, r.end = 0, n
}

// setDeadline keeps the assembly deadline: set from the moment a message is
// incomplete, cleared between messages. Setting a deadline may undo the one a
// concurrent shutdown set to wake the reader, so stopping is checked after.
func (r *reader) setDeadline(partial bool) error {
	c := r.c
	timeout := c.m.cfg.AssemblyTimeout
	if timeout <= 0 {
		return nil
	}
	switch {
	case partial && !r.dlFresh:
		_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
		r.dlSet, r.dlFresh = true, true
	case !partial && r.dlSet:
		_ = c.nc.SetReadDeadline(time.Time{})
		r.dlSet, r.dlFresh = false, false
	default:
		return nil
	}
	if c.stopping.Load() {
		return errStopped
	}
	return nil
}

// readErr classifies a read error.
func (r *reader) readErr(err error) error {
	c := r.c
	if c.stopping.Load() {
		return errStopped
	}
	if r.start < r.end || r.want > 0 || r.skip > 0 {
		return c.midMessageErr(err)
	}
	return err
}

// midMessageErr classifies an error that interrupted a message.
func (c *conn) midMessageErr(err error) error {
	if c.m.cfg.AssemblyTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.stopping.Load() {
		c.stats.rxTimeouts.Add(1)
		return fmt.Errorf("%w: %w", ErrAssemblyTimeout, err)
	}
	c.stats.rxTruncated.Add(1)
	if err == io.EOF {
		return ErrTruncatedMessage
	}
	return fmt.Errorf("%w: %w", ErrTruncatedMessage, err)
}

// readLarge reads a message longer than the read buffer (but shorter than
// the stream threshold) straight into its own buffer.
func (r *reader) readLarge() error {
	c := r.c
	if err := r.setDeadline(true); err != nil {
		return err
	}
	msg := getMessage(r.want)
	k := copy(msg.buf, r.buf[r.start:r.end])
	r.start, r.end = 0, 0
	if _, err := io.ReadFull(c.nc, msg.buf[k:]); err != nil {
		msg.Release()
		r.want = 1 // mid-message
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return r.readErr(err)
	}
	c.stats.rxReads.Add(1)
	c.stats.rxMsgs.Add(1)
	c.stats.rxBytes.Add(uint64(r.want))
	r.want, r.seen, r.dlFresh = 0, 0, false
	r.afterLarge = true
	_, err := c.push(msg)
	return err
}

// stream delivers the message at the head of the buffer as a stream read
// from the connection by its receiver, and waits until it is released.
func (r *reader) stream() error {
	c := r.c
	if err := r.setDeadline(true); err != nil {
		return err
	}
	st := &stream{c: c, prefix: r.buf[r.start:r.end], left: int64(r.want - (r.end - r.start))}
	msg := &Message{n: int64(r.want), st: st, class: -1}
	c.stats.rxMsgs.Add(1)
	c.stats.rxBytes.Add(uint64(r.want))
	if _, err := c.push(msg); err != nil {
		return err
	}
	select {
	case <-c.streamDone:
	case <-c.stop:
		st.mu.Lock()
		st.dead = true
		if st.err == nil {
			st.err = fmt.Errorf("%w: connection detached", ErrTruncatedMessage)
		}
		st.mu.Unlock()
		return errStopped
	}
	st.mu.Lock()
	st.dead = true
	left, err := st.left, st.err
	st.mu.Unlock()
	if err != nil {
		return err
	}
	r.start, r.end, r.want, r.seen = 0, 0, 0, 0
	r.skip = left
	if left == 0 {
		r.dlFresh = false
	}
	return nil
}
