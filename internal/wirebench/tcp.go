// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// TCP returns the baseline transport: raw Go TCP with one connection per
// sender and one server goroutine per connection.
func TCP() Transport { return tcpTransport{} }

type tcpTransport struct{}

func (tcpTransport) Name() string { return "tcp" }

func (tcpTransport) Serve(ctx context.Context, ln net.Listener) error {
	return ServeStreams(ctx, ln.Accept, func() { _ = ln.Close() })
}

func (tcpTransport) Dial(ctx context.Context, addr string, n int) (Client, error) {
	var d net.Dialer
	cl := &StreamClient{}
	for range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		cl.Add(c)
	}
	return cl, nil
}

// A StreamClient is a [Client] whose conns are byte streams (TCP
// connections, yamux or smux streams) speaking the frames through
// [StreamConn]. Closing it closes every stream, then the io.Closers given to
// [StreamClient.AtClose] in reverse order. The zero value is ready to use.
type StreamClient struct {
	mu      sync.Mutex // guards the following fields
	conns   []Conn
	streams []net.Conn
	closers []func() error
	closed  bool
}

// Add adds one sender's stream c, wrapped with [StreamConn] and closed by
// Close.
func (s *StreamClient) Add(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns = append(s.conns, StreamConn(c))
	s.streams = append(s.streams, c)
}

// AtClose registers f to run when the client is closed, after its streams
// (for example the session the streams belong to, then its TCP connection).
func (s *StreamClient) AtClose(f func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, f)
}

// Conns returns one [Conn] per added stream.
func (s *StreamClient) Conns() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Close closes every stream and runs the AtClose functions. It is
// idempotent.
func (s *StreamClient) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, c := range s.streams {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
