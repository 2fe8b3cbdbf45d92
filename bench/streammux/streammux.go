// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package streammux

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/hashicorp/yamux"
	"github.com/xtaci/smux"

	"github.com/pollen-dev/pollen/internal/wirebench"
)

// session is what the two libraries have in common once wrapped.
type session struct {
	open   func() (net.Conn, error)
	accept func() (net.Conn, error)
	close  func() error
}

// transport is a wirebench.Transport over one session per TCP connection.
type transport struct {
	name   string
	client func(net.Conn) (session, error)
	server func(net.Conn) (session, error)
}

// Yamux returns hashicorp/yamux with its default configuration.
func Yamux() wirebench.Transport {
	cfg := func() *yamux.Config {
		c := yamux.DefaultConfig()
		c.LogOutput = io.Discard
		return c
	}
	wrap := func(s *yamux.Session, err error) (session, error) {
		if err != nil {
			return session{}, err
		}
		return session{
			open:   func() (net.Conn, error) { return s.OpenStream() },
			accept: func() (net.Conn, error) { return s.AcceptStream() },
			close:  s.Close,
		}, nil
	}
	return &transport{
		name:   "yamux",
		client: func(c net.Conn) (session, error) { return wrap(yamux.Client(c, cfg())) },
		server: func(c net.Conn) (session, error) { return wrap(yamux.Server(c, cfg())) },
	}
}

// Smux returns xtaci/smux with its default configuration (protocol
// version 1).
func Smux() wirebench.Transport {
	wrap := func(s *smux.Session, err error) (session, error) {
		if err != nil {
			return session{}, err
		}
		return session{
			open:   func() (net.Conn, error) { return s.OpenStream() },
			accept: func() (net.Conn, error) { return s.AcceptStream() },
			close:  s.Close,
		}, nil
	}
	return &transport{
		name:   "smux",
		client: func(c net.Conn) (session, error) { return wrap(smux.Client(c, smux.DefaultConfig())) },
		server: func(c net.Conn) (session, error) { return wrap(smux.Server(c, smux.DefaultConfig())) },
	}
}

func (t *transport) Name() string { return t.name }

// Serve runs one session per accepted TCP connection and the benchmark
// protocol on every stream of it.
func (t *transport) Serve(ctx context.Context, ln net.Listener) error {
	return wirebench.ServeEach(ctx, ln.Accept, func() { _ = ln.Close() }, func(c net.Conn) {
		s, err := t.server(c)
		if err != nil {
			return
		}
		// The session ends when the client closes it or ServeEach closes c.
		_ = wirebench.ServeStreams(ctx, s.accept, func() { _ = s.close() })
	})
}

// Dial opens one TCP connection, one session over it and n streams.
func (t *transport) Dial(ctx context.Context, addr string, n int) (wirebench.Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	s, err := t.client(c)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s client: %w", t.name, err)
	}
	cl := &wirebench.StreamClient{}
	cl.AtClose(c.Close)
	cl.AtClose(s.close)
	for range n {
		st, err := s.open()
		if err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("%s open stream: %w", t.name, err)
		}
		cl.Add(st)
	}
	return cl, nil
}
