// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
)

// A Message is one received message, returned by [Socket.Receive]. It must be
// released with [Message.Release] once consumed.
//
// A message shorter than [Config.StreamThreshold] is buffered: [Message.Bytes]
// returns it whole and the connection it came from goes on. A longer one is
// streamed: its bytes are read from the connection as the receiver consumes
// them ([Message.Read], [Message.WriteTo], [Message.WriteToFile]) and that
// connection reads nothing else until the message is released; releasing it
// early discards the rest.
//
// A Message is not safe for concurrent use; it belongs to the goroutine that
// received it. It must not be used after Release.
type Message struct {
	buf   []byte  // buffered: the whole message
	off   int64   // bytes consumed by Read, WriteTo and WriteToFile
	n     int64   // total length
	class int     // buffer pool class, -1 for none
	st    *stream // non-nil for streamed messages
}

// A stream is the part of a streamed message still on its connection.
type stream struct {
	c *conn

	mu       sync.Mutex // guards the following fields and reads from c.nc
	prefix   []byte     // bytes already in the reader's buffer, not yet consumed
	left     int64      // bytes still on the connection
	err      error      // the error that ended the stream early
	dead     bool       // the reader moved on: no more reads
	released bool
	// own: read by the token holder's receiver (rx.go), not streamed by the
	// reader goroutine; ended says that its release or a shutdown has
	// given the token back.
	own   bool
	ended bool
}

// Message buffers come from per-size-class pools (powers of two from 64
// bytes), so a steady stream of small messages allocates nothing.
const (
	minClass = 6
	maxClass = 30
)

var msgPools [maxClass + 1]sync.Pool

func classOf(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// getMessage returns a buffered message of length n.
func getMessage(n int) *Message {
	k := classOf(n)
	if k > maxClass {
		return &Message{buf: make([]byte, n), n: int64(n), class: -1}
	}
	if v := msgPools[k].Get(); v != nil {
		m := v.(*Message)
		m.buf = m.buf[:n]
		m.n = int64(n)
		m.off = 0
		return m
	}
	return &Message{buf: make([]byte, n, 1<<k), n: int64(n), class: k}
}

// Len returns the message's length in bytes, header included.
func (m *Message) Len() int64 { return m.n }

// Bytes returns the whole message, or nil for a streamed message. The slice
// is valid until Release.
func (m *Message) Bytes() []byte {
	if m.st != nil {
		return nil
	}
	return m.buf
}

// Read reads the next bytes of the message; it returns [io.EOF] after the
// last. For a streamed message whose connection fails, it returns an error
// matching [ErrTruncatedMessage] or [ErrAssemblyTimeout].
func (m *Message) Read(p []byte) (int, error) {
	if m.st == nil {
		if m.off >= int64(len(m.buf)) {
			return 0, io.EOF
		}
		n := copy(p, m.buf[m.off:])
		m.off += int64(n)
		return n, nil
	}
	st := m.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.prefix) > 0 {
		n := copy(p, st.prefix)
		st.prefix = st.prefix[n:]
		m.off += int64(n)
		return n, nil
	}
	if st.left == 0 {
		return 0, io.EOF
	}
	if err := st.checkLocked(); err != nil {
		return 0, err
	}
	if int64(len(p)) > st.left {
		p = p[:st.left]
	}
	n, err := st.c.read(p)
	st.left -= int64(n)
	m.off += int64(n)
	if err != nil {
		if st.left == 0 {
			err = nil
		} else {
			st.failLocked(err)
			err = st.err
		}
	}
	return n, err
}

// checkLocked returns the error that ended the stream, if any.
func (st *stream) checkLocked() error {
	if st.err != nil {
		return st.err
	}
	if st.dead {
		return fmt.Errorf("%w: connection detached", ErrTruncatedMessage)
	}
	return nil
}

// failLocked records the connection error that ended the stream.
func (st *stream) failLocked(err error) {
	if st.err != nil {
		return
	}
	if st.c.stopping.Load() {
		st.err = fmt.Errorf("%w: connection detached", ErrTruncatedMessage)
		return
	}
	st.err = st.c.midMessageErr(err)
}

// WriteTo writes the rest of the message to w. For a streamed message read
// from a TCP connection and a w that is an *os.File, the bytes move from the
// socket to the file with splice(2), without passing through user space.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	if m.st == nil {
		if m.off >= int64(len(m.buf)) {
			return 0, nil
		}
		n, err := w.Write(m.buf[m.off:])
		m.off += int64(n)
		return int64(n), err
	}
	st := m.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var total int64
	if len(st.prefix) > 0 {
		n, err := w.Write(st.prefix)
		st.prefix = st.prefix[n:]
		m.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	if st.left == 0 {
		return total, nil
	}
	if err := st.checkLocked(); err != nil {
		return total, err
	}
	lr := io.LimitedReader{R: st.c.nc, N: st.left}
	var n int64
	var err error
	if f, ok := w.(*os.File); ok {
		// (*os.File).ReadFrom splices from a TCP connection.
		n, err = f.ReadFrom(&lr)
	} else {
		bp := copyBufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{w}, &lr, *bp)
		copyBufPool.Put(bp)
	}
	st.left -= n
	m.off += n
	total += n
	if st.left > 0 {
		if err == nil {
			err = io.EOF
		}
		if !errors.Is(err, io.EOF) && !isConnErr(err) {
			// The writer failed; the connection is intact but the message
			// is only partly consumed: Release discards the rest.
			return total, err
		}
		st.failLocked(err)
		return total, st.err
	}
	return total, nil
}

// writerOnly hides a writer's ReadFrom so io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

// WriteToFile writes the rest of the message into f at offset off, like
// [os.File.WriteAt], and returns the number of bytes written. For a streamed
// message read from a TCP connection on Linux, the bytes move from the socket
// into the file with splice(2); otherwise they are copied. f's own offset is
// not used and not changed.
func (m *Message) WriteToFile(f *os.File, off int64) (int64, error) {
	if m.st == nil {
		if m.off >= int64(len(m.buf)) {
			return 0, nil
		}
		n, err := f.WriteAt(m.buf[m.off:], off)
		m.off += int64(n)
		return int64(n), err
	}
	st := m.st
	st.mu.Lock()
	defer st.mu.Unlock()
	var total int64
	if len(st.prefix) > 0 {
		n, err := f.WriteAt(st.prefix, off)
		st.prefix = st.prefix[n:]
		m.off += int64(n)
		total += int64(n)
		off += int64(n)
		if err != nil {
			return total, err
		}
	}
	if st.left == 0 {
		return total, nil
	}
	if err := st.checkLocked(); err != nil {
		return total, err
	}
	n, handled, connErr, fileErr := spliceToFile(st.c.nc, f, off, st.left)
	if !handled {
		n, connErr, fileErr = copyToFile(st.c.nc, f, off, st.left)
	}
	st.c.received(int(n))
	st.left -= n
	m.off += n
	total += n
	switch {
	case fileErr != nil:
		return total, fileErr
	case connErr != nil:
		st.failLocked(connErr)
		return total, st.err
	}
	return total, nil
}

// copyToFile copies n bytes from r into f at off through a pooled buffer.
func copyToFile(r io.Reader, f *os.File, off, n int64) (written int64, connErr, fileErr error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for written < n {
		k, rerr := r.Read(buf[:min(n-written, int64(len(buf)))])
		if k > 0 {
			w, err := f.WriteAt(buf[:k], off+written)
			written += int64(w)
			if err != nil {
				return written, nil, err
			}
		}
		if rerr != nil && written < n {
			return written, rerr, nil
		}
	}
	return written, nil, nil
}

// Release returns the message's resources. For a streamed message, the
// connection discards what was not consumed and goes on. Release must be
// called exactly once; the message must not be used after.
func (m *Message) Release() {
	if st := m.st; st != nil {
		st.mu.Lock()
		first := !st.released
		st.released = true
		st.prefix = nil
		if st.own {
			end := !st.ended
			st.ended, st.dead = true, true
			left, err := st.left, st.err
			st.mu.Unlock()
			if first && end {
				st.c.endStream(left, err)
			}
			return
		}
		st.mu.Unlock()
		if first {
			select {
			case st.c.streamDone <- struct{}{}:
			default:
			}
		}
		return
	}
	if m.class < 0 {
		m.buf = nil
		return
	}
	m.buf = m.buf[:0]
	msgPools[m.class].Put(m)
}
