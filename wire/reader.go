// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// reader is a connection's read state: its buffer and the message being
// cut. It is used by whoever holds the connection's read token (rx.go): the
// connection's reader goroutine, or a receiving socket that reads for
// itself.
type reader struct {
	c          *conn
	buf        []byte
	start, end int      // buf[start:end] holds unconsumed bytes
	want       int      // total length of the message at start, 0 while unknown
	seen       int      // bytes the parser had when it last asked for more
	skip       int64    // bytes of a released stream still to discard
	large      *Message // a message read straight into its own buffer
	got        int      // bytes of large already read
	err        error    // a read error that came with bytes, reported by the next fill
	dlSet      bool     // a read deadline is set on the connection
	dlFresh    bool     // the deadline belongs to the current message
	peek       bool     // the next read takes only a message head (peekSize)

	// A receiving holder's own buffer ([Socket.Recv]): its message is cut
	// straight into dst if it fits, and cut returns inDst with the length
	// in dstN. Set and cleared by the holder around its read.
	dst  []byte
	dstN int
}

// inDst is what a receiving holder's read returns for a message cut into
// reader.dst. It is only compared, never used as a message.
var inDst = new(Message)

// A message of which at least 1/directFraction of the read buffer is still
// unread is read straight into its own buffer; after such a message, and
// after a streamed one, the next read is limited to peekSize bytes.
const (
	directFraction = 4
	peekSize       = 512
)

// direct reads for a receiving token holder until it has a message of its
// own. Further complete messages go to the queue while it has room; what
// does not fit stays buffered for the next holder.
func (r *reader) direct() (*Message, error) {
	for {
		own, err := r.cut(true)
		if own != nil || err != nil {
			return own, err
		}
		if r.want >= r.c.m.cfg.StreamThreshold && r.err == nil && r.skip == 0 && r.large == nil {
			return r.newStream(true)
		}
		if err := r.fill(true); err != nil {
			return nil, err
		}
	}
}

// cut delivers the complete messages the reader holds. The reader goroutine
// (direct false) queues them all, waiting while the queue is full. A
// receiving holder (direct true) keeps the first and queues the others
// without waiting, leaving in place what the queue has no room for.
func (r *reader) cut(direct bool) (own *Message, err error) {
	c := r.c
	if r.large != nil {
		if r.got < len(r.large.buf) {
			return nil, nil
		}
		msg := r.large
		r.large = nil
		r.want, r.seen, r.dlFresh = 0, 0, false
		// With readv the head of the next message came with this one.
		r.peek = r.c.sock == nil
		if direct {
			own = msg
		} else if _, err := c.push(msg); err != nil {
			return nil, err
		}
	}
loop:
	for r.skip == 0 && r.start < r.end {
		head := r.buf[r.start:r.end]
		if r.want == 0 {
			n, err := r.parse(head)
			if err != nil {
				return own, err
			}
			if n == 0 {
				break
			}
			r.want = n
		}
		if r.want > len(head) {
			break
		}
		if direct && own != nil && len(c.m.ready) == cap(c.m.ready) {
			break // no room: leave it for the next holder
		}
		var msg *Message
		if direct && own == nil && r.want <= len(r.dst) {
			r.dstN = copy(r.dst, head[:r.want])
			msg = inDst
		} else {
			msg = getMessage(r.want)
			copy(msg.buf, head[:r.want])
		}
		c.stats.rxMsgs.Add(1)
		c.stats.rxBytes.Add(uint64(r.want))
		r.start += r.want
		r.want, r.seen, r.dlFresh = 0, 0, false
		switch {
		case direct && own == nil:
			own = msg
		case direct:
			if !c.tryPush(msg) {
				// Another connection's reader filled the queue: keep
				// the message, complete, for the next holder.
				r.large, r.got = msg, len(msg.buf)
				break loop
			}
		default:
			waited, err := c.push(msg)
			if err != nil {
				return nil, err
			}
			if waited {
				// The time spent waiting for a receiver is ours, not the
				// peer's: restart the clock of a partial next message.
				r.dlFresh = false
			}
		}
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return own, nil
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

// fill reads more bytes once (or, for the reader goroutine, streams a long
// message to its receiver). A receiving holder (direct) leaves streamed
// messages to the reader goroutine: [errNeedReader].
func (r *reader) fill(direct bool) error {
	c := r.c
	if r.err != nil {
		err := r.err
		r.err = nil
		return r.readErr(err)
	}
	if r.large != nil {
		return r.fillLarge()
	}
	if r.skip > 0 {
		if err := r.setDeadline(true); err != nil {
			return err
		}
		k, err := c.read(r.buf[:min(r.skip, int64(len(r.buf)))])
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
			if direct {
				return errNeedReader
			}
			return r.stream()
		case r.want > len(r.buf) || r.want-(r.end-r.start) >= len(r.buf)/directFraction:
			// Most of the message is still to come: read it straight
			// into its own buffer instead of copying it out of ours.
			r.large = getMessage(r.want)
			r.got = copy(r.large.buf, r.buf[r.start:r.end])
			r.start, r.end = 0, 0
			return r.fillLarge()
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
	if r.peek && r.start == r.end && len(into) > peekSize {
		// Large messages tend to follow large messages: read just the
		// head of the next one, so its body can go straight to its own
		// buffer, or, streamed, to its receiver's destination, instead
		// of through ours. Small messages cost one extra read.
		into = into[:peekSize]
	}
	r.peek = false
	k, err := c.read(into)
	if k > 0 {
		r.end += k
		c.stats.rxReads.Add(1)
	}
	if err != nil {
		if k > 0 {
			r.err = err // after cutting what came with it
			return nil
		}
		return r.readErr(err)
	}
	return nil
}

// fillLarge reads more of the message being read into its own buffer.
func (r *reader) fillLarge() error {
	c := r.c
	if err := r.setDeadline(true); err != nil {
		return err
	}
	var k int
	var err error
	if c.sock != nil && r.end == 0 {
		// The read buffer is empty: the rest of the message and the
		// head of the next come in one readv.
		k, err = c.readv(r.large.buf[r.got:], r.buf)
		if rest := len(r.large.buf) - r.got; k > rest {
			r.end = k - rest
			k = rest
		}
	} else {
		k, err = c.read(r.large.buf[r.got:])
	}
	if k > 0 {
		r.got += k
		c.stats.rxReads.Add(1)
	}
	if r.got == len(r.large.buf) {
		c.stats.rxMsgs.Add(1)
		c.stats.rxBytes.Add(uint64(r.want))
		if err != nil {
			r.err = err
		}
		return nil
	}
	if err != nil {
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
// concurrent shutdown or interrupt set to wake the reader, so both are
// checked after.
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
	if c.intr.Load() {
		return errInterrupted
	}
	return nil
}

// readErr classifies a read error.
func (r *reader) readErr(err error) error {
	c := r.c
	if c.stopping.Load() {
		return errStopped
	}
	if c.intr.Load() {
		return errInterrupted
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
	if errors.Is(err, io.EOF) {
		return ErrTruncatedMessage
	}
	return fmt.Errorf("%w: %w", ErrTruncatedMessage, err)
}

// newStream starts the clock of the message at the head of the buffer and
// returns it, counted as received, as a stream read from the connection by
// its receiver. With own, the receiving holder reads it itself and the
// token goes with it (conn.holdStream).
func (r *reader) newStream(own bool) (*Message, error) {
	c := r.c
	if err := r.setDeadline(true); err != nil {
		return nil, err
	}
	st := &stream{c: c, prefix: r.buf[r.start:r.end], left: int64(r.want - (r.end - r.start)), own: own}
	c.stats.rxMsgs.Add(1)
	c.stats.rxBytes.Add(uint64(r.want))
	return &Message{n: int64(r.want), st: st, class: -1}, nil
}

// stream delivers the message at the head of the buffer as a stream read
// from the connection by its receiver, and waits until it is released.
func (r *reader) stream() error {
	c := r.c
	msg, err := r.newStream(false)
	if err != nil {
		return err
	}
	st := msg.st
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
	r.afterStream(left)
	return nil
}

// afterStream forgets the stream that was at the head of the buffer, whose
// left bytes are still on the connection, to be skipped.
func (r *reader) afterStream(left int64) {
	r.start, r.end, r.want, r.seen = 0, 0, 0, 0
	r.skip = left
	r.peek = true
	if left == 0 {
		r.dlFresh = false
	}
}
