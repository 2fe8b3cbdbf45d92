// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// A Socket sends and receives whole messages through its [Mux]. All sockets
// of a mux are equivalent (like Linux KCM sockets cloned from one another):
// a message sent on any of them goes out on one of the mux's connections,
// and any socket that is receiving may get the next message that arrives.
//
// A Socket is safe for concurrent use; separate sockets do not contend with
// each other except on the connections they share. Create one with
// [Mux.NewSocket].
type Socket struct {
	m          *Mux
	id         int
	rxDisabled atomic.Bool
	isClosed   atomic.Bool
	reading    atomic.Pointer[conn] // the connection this socket is reading, if any
	closed     chan struct{}
	closeOnce  sync.Once
	stats      sockCounters
}

// Send sends msg as one message: whole, on one connection, never interleaved
// with another message. It picks the attached connection with the fewest
// bytes queued; if that connection fails before msg is completely written,
// msg is sent again, whole, on another (the peer sees a truncated message on
// the failed connection and discards it). With no connection attached, Send
// waits for one until ctx is done.
//
// msg must be a complete message for the mux's parser; Send does not check
// it. An empty msg sends nothing. msg may be reused once Send returns. A
// Send whose message is already being written when ctx is done waits for
// the write to finish.
func (s *Socket) Send(ctx context.Context, msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if s.isClosed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if cs := *s.m.live.Load(); len(cs) == 1 && !s.m.closing.Load() {
		ok, failed := cs[0].writeNow(msg)
		if ok {
			s.stats.txMsgs.Add(1)
			s.stats.txBytes.Add(uint64(len(msg)))
			return nil
		}
		if failed {
			s.m.txRetries.Add(1)
			s.stats.txRetries.Add(1)
		}
	}
	req := getReq()
	req.one[0] = msg
	req.msgs = req.one[:]
	req.n = int64(len(msg))
	err := s.m.send(ctx, s, req)
	putReq(req)
	return err
}

// SendBatch sends msgs, each a complete message, in order on one connection
// with one vectored write (writev). If the connection fails part way, the
// messages not completely written are sent again on another connection.
func (s *Socket) SendBatch(ctx context.Context, msgs [][]byte) error {
	if s.isClosed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := getReq()
	for _, b := range msgs {
		if len(b) > 0 {
			req.n += int64(len(b))
		}
	}
	if req.n == 0 {
		putReq(req)
		return nil
	}
	req.msgs = msgs
	err := s.m.send(ctx, s, req)
	putReq(req)
	return err
}

// SendVec sends the concatenation of parts as one message, with one
// vectored write (writev) and without copying the parts: typically a
// frame header and a payload that lives elsewhere. It is otherwise [Send]:
// whole, on one connection, never interleaved with another message, and
// sent again whole on another connection if its connection fails before
// all of it is written. Empty parts are skipped; if all are empty nothing
// is sent. The parts may be reused once SendVec returns.
func (s *Socket) SendVec(ctx context.Context, parts ...[]byte) error {
	if s.isClosed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := getReq()
	for _, b := range parts {
		if len(b) > 0 {
			req.parts = append(req.parts, b)
			req.n += int64(len(b))
		}
	}
	if req.n == 0 {
		putReq(req)
		return nil
	}
	req.msgs = req.parts
	err := s.m.send(ctx, s, req)
	putReq(req)
	return err
}

// SendFile sends header followed by n bytes of f from offset off as one
// message: header ++ f[off:off+n]. The header is written first, then the file
// range, with sendfile(2) on a TCP connection on Linux (the file stays in the
// page cache; f's own offset is neither used nor changed), by copying
// otherwise. The connection's write lock is held throughout, so nothing
// interleaves. A connection failure retries the whole message elsewhere; a
// file error (f shorter than off+n, a read error) aborts the connection and
// is returned.
func (s *Socket) SendFile(ctx context.Context, header []byte, f *os.File, off, n int64) error {
	if s.isClosed.Load() {
		return ErrClosed
	}
	if off < 0 || n < 0 {
		return errors.New("wire: SendFile: negative offset or length")
	}
	if n == 0 {
		return s.Send(ctx, header)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.m.sendFile(ctx, s, header, f, off, n)
}

// Receive returns the next message received on any of the mux's
// connections, waiting until one arrives, ctx is done or the socket is
// closed. The caller must release the message. It returns
// [ErrReceiveDisabled] while receiving is disabled.
//
// With one connection attached and no message queued, Receive reads the
// connection in the calling goroutine; the end of ctx, [Socket.Close], a
// [Mux.Detach] or a second [Mux.Attach] cuts that read short without losing
// bytes.
func (s *Socket) Receive(ctx context.Context) (*Message, error) {
	msg, _, err := s.receive(ctx, nil)
	return msg, err
}

// receive is Receive; with dst not nil (Recv) a message read directly
// from the connection that fits in dst is cut into it and returned as
// inDst with its length.
func (s *Socket) receive(ctx context.Context, dst []byte) (*Message, int, error) {
	if s.rxDisabled.Load() {
		return nil, 0, ErrReceiveDisabled
	}
	if s.isClosed.Load() {
		return nil, 0, ErrClosed
	}
	m := s.m
	var msg *Message
	select {
	case msg = <-m.ready:
		m.took()
		return s.got(msg), 0, nil
	default:
	}
	if c := m.single.Load(); c != nil {
		msg, n, err, done := c.receive(ctx, s, dst)
		if done {
			if err != nil {
				return nil, 0, err
			}
			if msg == inDst {
				s.stats.rxMsgs.Add(1)
				s.stats.rxBytes.Add(uint64(n))
				return msg, n, nil
			}
			return s.got(msg), 0, nil
		}
		// Counted as waiting.
	} else {
		m.waiting.Add(1)
	}
	select {
	case msg = <-m.ready:
	case <-ctx.Done():
		m.waiting.Add(-1)
		return nil, 0, ctx.Err()
	case <-s.closed:
		m.waiting.Add(-1)
		return nil, 0, ErrClosed
	}
	m.waiting.Add(-1)
	m.took()
	return s.got(msg), 0, nil
}

// got counts msg as received by s.
func (s *Socket) got(msg *Message) *Message {
	s.stats.rxMsgs.Add(1)
	s.stats.rxBytes.Add(uint64(msg.n))
	return msg
}

// Recv receives the next message into buf and returns its length. If buf is
// shorter than the message, Recv fills buf, drops the rest and returns
// len(buf) with [ErrTruncated].
func (s *Socket) Recv(ctx context.Context, buf []byte) (int, error) {
	msg, n, err := s.receive(ctx, buf)
	if err != nil {
		return 0, err
	}
	if msg == inDst {
		return n, nil
	}
	defer msg.Release()
	if msg.st == nil {
		n = copy(buf, msg.buf)
		if n < len(msg.buf) {
			return n, ErrTruncated
		}
		return n, nil
	}
	want := buf
	if int64(len(want)) > msg.n {
		want = want[:msg.n]
	}
	n, err = io.ReadFull(msg, want)
	if err != nil {
		return n, err
	}
	if msg.n > int64(len(buf)) {
		return n, ErrTruncated
	}
	return n, nil
}

// SetReceiveDisabled disables (true) or enables (false) receiving on the
// socket, like KCM_RECV_DISABLE: a socket that will be busy for a while
// stops taking messages, which go to the other sockets. A Receive already
// waiting is not interrupted.
func (s *Socket) SetReceiveDisabled(disabled bool) { s.rxDisabled.Store(disabled) }

// Close closes the socket: waiting and later Receive calls return
// [ErrClosed], and so do sends waiting for a connection and later sends.
// Messages already queued on a connection complete. Other
// sockets of the mux are not affected. Close is idempotent; it returns nil.
func (s *Socket) Close() error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		close(s.closed)
		if c := s.reading.Load(); c != nil {
			c.interrupt(s)
		}
		m := s.m
		m.mu.Lock()
		_, ok := m.sockets[s]
		delete(m.sockets, s)
		m.mu.Unlock()
		if ok {
			m.retiredSockets.rxMsgs.Add(s.stats.rxMsgs.Load())
			m.retiredSockets.rxBytes.Add(s.stats.rxBytes.Load())
			m.retiredSockets.txMsgs.Add(s.stats.txMsgs.Load())
			m.retiredSockets.txBytes.Add(s.stats.txBytes.Load())
			m.retiredSockets.txRetries.Add(s.stats.txRetries.Load())
		}
	})
	return nil
}
