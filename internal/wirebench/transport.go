// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// A Transport carries the benchmark workloads between a client and a server
// it runs itself. Implementations must be safe for concurrent use.
type Transport interface {
	// Name is the transport's short name in reports ("tcp", "wire", "yamux").
	Name() string
	// Serve answers clients accepted on ln until ln is closed or ctx is
	// done, whichever comes first, and returns only after every goroutine
	// it started has exited. The server echoes typeEcho messages and sinks
	// typeSink messages (use [ServeConn] for byte-stream transports).
	Serve(ctx context.Context, ln net.Listener) error
	// Dial opens n message conns, one per sender, to the server at addr.
	Dial(ctx context.Context, addr string, n int) (Client, error)
}

// A Client is the client side of one [Transport.Dial]: one [Conn] per
// sender. Close ends the session and unblocks any Send or Recv.
type Client interface {
	Conns() []Conn
	Close() error
}

// A Conn sends and receives whole messages for one sender. A Conn is used by
// one goroutine at a time; a blocked Send or Recv returns when ctx is done or
// when its [Client] is closed.
type Conn interface {
	// Send writes msg, one whole frame.
	Send(ctx context.Context, msg []byte) error
	// Recv reads one whole frame into buf and returns its length. Transports
	// that deliver a reply to any waiting sender (wire) may return a reply
	// to another sender's request; the workloads only count transactions.
	Recv(ctx context.Context, buf []byte) (int, error)
}

// StreamConn returns a [Conn] over a byte stream c (a TCP connection or a
// yamux/smux stream): Send is one Write of the frame, Recv reads the header
// and then the payload through a 64 KiB buffered reader, which is how a Go
// program speaks a length-prefixed protocol over TCP. ctx is not consulted:
// closing c unblocks it.
func StreamConn(c io.ReadWriter) Conn {
	return &streamConn{w: c, r: bufio.NewReaderSize(c, 64<<10)}
}

type streamConn struct {
	w io.Writer
	r *bufio.Reader
}

func (s *streamConn) Send(_ context.Context, msg []byte) error {
	_, err := s.w.Write(msg)
	return err
}

func (s *streamConn) Recv(_ context.Context, buf []byte) (int, error) {
	return readFrame(s.r, buf)
}

// readFrame reads one frame from r into buf.
func readFrame(r io.Reader, buf []byte) (int, error) {
	if len(buf) < HeaderLen {
		return 0, fmt.Errorf("%w: buffer of %d bytes", errBadMessage, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return 0, err
	}
	_, n, err := parseHeader(buf[:HeaderLen])
	if err != nil {
		return 0, err
	}
	if HeaderLen+n > len(buf) {
		return 0, fmt.Errorf("%w: %d-byte message, %d-byte buffer", errBadMessage, HeaderLen+n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[HeaderLen:HeaderLen+n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the stream ended inside a message
		}
		return 0, fmt.Errorf("read payload: %w", err)
	}
	return HeaderLen + n, nil
}

// ServeConn runs the benchmark server protocol on one byte stream c until c
// reaches EOF or fails. EOF between messages is a clean end (nil).
func ServeConn(c io.ReadWriter) error {
	r := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, 128<<10)
	var sink sink
	for {
		n, err := readFrame(r, buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if err := handle(&sink, buf[:n], func(b []byte) error { _, err := c.Write(b); return err }); err != nil {
			return err
		}
	}
}

// handle answers one request msg: echo, sink, or flush. reply sends a frame
// back to the client. It reports typeBye as errBye.
func handle(s *sink, msg []byte, reply func([]byte) error) error {
	typ, _, err := parseHeader(msg)
	if err != nil {
		return err
	}
	switch typ {
	case typeEcho:
		return reply(msg)
	case typeSink:
		return s.add(int64(len(msg)), reply)
	case typeFlush:
		want, err := messageCount(msg, typeFlush)
		if err != nil {
			return err
		}
		return s.flush(want, reply)
	case typeBye:
		if err := reply(countMessage(typeAck, 0)); err != nil {
			return err
		}
		return errBye
	default:
		return fmt.Errorf("%w: unknown type %d", errBadMessage, typ)
	}
}

var errBye = errors.New("wirebench: session ended by the client")

// A sink counts streamed bytes and answers a flush once every byte the
// client says it sent has arrived. On a transport that hands messages to
// several server goroutines (wire) the flush may be handled before the last
// data messages; it then waits here, and the goroutine whose data completes
// the count sends the answer on its own socket, so no goroutine blocks.
type sink struct {
	mu      sync.Mutex // guards the following fields
	n       int64
	waiting []int64 // flush counts not reached yet
}

func (s *sink) add(n int64, reply func([]byte) error) error {
	s.mu.Lock()
	s.n += n
	got, ready := s.n, 0
	if len(s.waiting) > 0 {
		keep := s.waiting[:0]
		for _, want := range s.waiting {
			if want <= got {
				ready++
			} else {
				keep = append(keep, want)
			}
		}
		s.waiting = keep
	}
	s.mu.Unlock()
	for range ready {
		if err := reply(countMessage(typeAck, got)); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) flush(want int64, reply func([]byte) error) error {
	s.mu.Lock()
	got := s.n
	if got < want {
		s.waiting = append(s.waiting, want)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return reply(countMessage(typeAck, got))
}

// ServeStreams accepts byte streams from accept and runs [ServeConn] on each;
// see [ServeEach].
func ServeStreams(ctx context.Context, accept func() (net.Conn, error), stop func()) error {
	return ServeEach(ctx, accept, stop, func(c net.Conn) {
		_ = ServeConn(c) // a failing client ends only its own stream
	})
}

// ServeEach accepts conns from accept until it fails (for example because
// the listener or session was closed) and runs handle on each in its own
// goroutine, closing the conn when handle returns. stop must make accept
// fail; it is called when ctx is done, and once accept has failed. Then every
// conn still open is closed, and ServeEach returns after all handlers have.
// A failure of accept caused by stop or a closed listener is not an error.
func ServeEach(ctx context.Context, accept func() (net.Conn, error), stop func(), handle func(net.Conn)) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns = map[net.Conn]struct{}{}
	)
	done := make(chan struct{})
	wg.Go(func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	})
	var err error
	for {
		var c net.Conn
		c, err = accept()
		if err != nil {
			break
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			handle(c)
			_ = c.Close()
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
	stop()
	mu.Lock()
	for c := range conns {
		_ = c.Close()
	}
	mu.Unlock()
	close(done)
	wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// A Handler answers the benchmark protocol for a transport that delivers
// whole messages to its server (wire does, gRPC does): echo requests are
// sent back, streamed data is counted, a flush is acknowledged once the data
// it counts has arrived. It is safe for concurrent use.
type Handler struct {
	s sink
}

// NewHandler returns a Handler with nothing received yet.
func NewHandler() *Handler { return &Handler{} }

// Handle answers msg, calling reply for each message to send back (none,
// one, or the acknowledgement of an earlier flush). An error, including the
// client's goodbye, ends the session.
func (h *Handler) Handle(msg []byte, reply func([]byte) error) error {
	return handle(&h.s, msg, reply)
}

// ExpectsReply reports whether the server answers msg (an echo request, a
// flush or a goodbye) rather than only counting it (streamed data).
func ExpectsReply(msg []byte) bool {
	return len(msg) >= HeaderLen && msg[5] != typeSink
}
