// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// WireOptions tunes the [Wire] transport.
type WireOptions struct {
	// Conns is the number of TCP connections attached to the client's mux
	// (and so to the server's); 0 means 1.
	Conns int
	// ReceiveQueue is wire.Config.ReceiveQueue on both sides; 0 means
	// twice the number of senders, at least wire's default of 64.
	ReceiveQueue int
}

// Wire returns the transport under test: one wire.Mux per side over
// opts.Conns TCP connections, one wire.Socket per sender on the client and
// as many echoing sockets on the server.
//
// Each TCP connection starts with a 16-byte hello before any frame:
//
//	0       4            12         16
//	| "PWB1" | session id | sockets  |
//
// The server attaches every connection of one session id to one mux and
// starts the requested number of echoing sockets on it.
func Wire(opts WireOptions) Transport {
	if opts.Conns <= 0 {
		opts.Conns = 1
	}
	return &wireTransport{opts: opts}
}

type wireTransport struct {
	opts WireOptions
}

const (
	helloLen   = 16
	helloMagic = "PWB1"
	// maxServerSockets bounds what a hello may ask the server for.
	maxServerSockets = 4096
)

func (t *wireTransport) Name() string { return "wire" }

func (t *wireTransport) receiveQueue(senders int) int {
	if t.opts.ReceiveQueue > 0 {
		return t.opts.ReceiveQueue
	}
	return max(64, 2*senders)
}

func (t *wireTransport) Dial(ctx context.Context, addr string, n int) (Client, error) {
	mux, err := wire.NewMux(wire.Config{ReceiveQueue: t.receiveQueue(n)})
	if err != nil {
		return nil, fmt.Errorf("new mux: %w", err)
	}
	cl := &wireClient{mux: mux}
	hello := make([]byte, helloLen)
	copy(hello, helloMagic)
	binary.BigEndian.PutUint64(hello[4:], rand.Uint64())
	binary.BigEndian.PutUint32(hello[12:], uint32(n))
	var d net.Dialer
	for range t.opts.Conns {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		cl.tcp = append(cl.tcp, c)
		if _, err := c.Write(hello); err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("write hello: %w", err)
		}
		if err := mux.Attach(c); err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("attach: %w", err)
		}
	}
	for range n {
		s := mux.NewSocket()
		cl.socks = append(cl.socks, s)
		cl.conns = append(cl.conns, wireConn{s})
	}
	return cl, nil
}

type wireClient struct {
	mux   *wire.Mux
	tcp   []net.Conn
	socks []*wire.Socket
	conns []Conn
	once  sync.Once
	err   error
}

func (c *wireClient) Conns() []Conn { return c.conns }

// Close says goodbye to the server (so it can drop the session) when the
// socket is idle, then closes the mux and the TCP connections.
func (c *wireClient) Close() error {
	c.once.Do(func() {
		if len(c.socks) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if c.socks[0].Send(ctx, newMessage(typeBye, 0)) == nil {
				buf := make([]byte, 64)
				_, _ = c.socks[0].Recv(ctx, buf) // the server's ack, or a timeout if the session broke
			}
			cancel()
		}
		c.err = c.mux.Close()
		for _, tc := range c.tcp {
			if err := tc.Close(); err != nil && !errors.Is(err, net.ErrClosed) && c.err == nil {
				c.err = err
			}
		}
	})
	return c.err
}

type wireConn struct{ s *wire.Socket }

func (w wireConn) Send(ctx context.Context, msg []byte) error { return w.s.Send(ctx, msg) }

func (w wireConn) Recv(ctx context.Context, buf []byte) (int, error) { return w.s.Recv(ctx, buf) }

// Serve accepts TCP connections, reads each one's hello and attaches it to
// its session's mux.
func (t *wireTransport) Serve(ctx context.Context, ln net.Listener) error {
	srv := &wireServer{t: t, ctx: ctx, sessions: map[uint64]*wireSession{}}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			break
		}
		srv.wg.Go(func() { srv.attach(c) })
	}
	stop()
	srv.closeAll()
	srv.wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("accept: %w", err)
}

type wireServer struct {
	t   *wireTransport
	ctx context.Context
	wg  sync.WaitGroup // every goroutine of every session

	mu       sync.Mutex // guards the following fields
	sessions map[uint64]*wireSession
	closed   bool
}

type wireSession struct {
	srv  *wireServer
	id   uint64
	mux  *wire.Mux
	sink sink

	mu     sync.Mutex // guards the following fields
	tcp    []net.Conn
	closed bool
}

// attach reads c's hello and attaches c to its session, creating the session
// (mux and sockets) for the first connection of an id.
func (srv *wireServer) attach(c net.Conn) {
	hello := make([]byte, helloLen)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, hello); err != nil || string(hello[:4]) != helloMagic {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	id := binary.BigEndian.Uint64(hello[4:])
	nsock := int(binary.BigEndian.Uint32(hello[12:]))
	if nsock < 1 || nsock > maxServerSockets {
		_ = c.Close()
		return
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		_ = c.Close()
		return
	}
	s := srv.sessions[id]
	if s == nil {
		mux, err := wire.NewMux(wire.Config{ReceiveQueue: srv.t.receiveQueue(nsock)})
		if err != nil {
			srv.mu.Unlock()
			_ = c.Close()
			return
		}
		s = &wireSession{srv: srv, id: id, mux: mux}
		srv.sessions[id] = s
		for range nsock {
			sock := mux.NewSocket()
			srv.wg.Go(func() { s.serve(sock) })
		}
	}
	srv.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.tcp = append(s.tcp, c)
	s.mu.Unlock()
	if err := s.mux.Attach(c); err != nil {
		_ = c.Close()
	}
}

// serve answers messages on one server socket until the session closes.
func (s *wireSession) serve(sock *wire.Socket) {
	ctx := s.srv.ctx
	reply := func(b []byte) error { return sock.Send(ctx, b) }
	for {
		m, err := sock.Receive(ctx)
		if err != nil {
			s.close()
			return
		}
		b := m.Bytes()
		if b == nil { // a streamed message (longer than StreamThreshold)
			b, err = io.ReadAll(m)
		}
		if err == nil {
			err = handle(&s.sink, b, reply)
		}
		m.Release()
		if err != nil {
			s.close()
			return
		}
	}
}

// close ends the session: the mux (so its sockets' Receive fail) and its TCP
// connections. It is idempotent.
func (s *wireSession) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	tcp := s.tcp
	s.mu.Unlock()
	s.srv.mu.Lock()
	delete(s.srv.sessions, s.id)
	s.srv.mu.Unlock()
	_ = s.mux.Close()
	for _, c := range tcp {
		_ = c.Close()
	}
}

func (srv *wireServer) closeAll() {
	srv.mu.Lock()
	srv.closed = true
	var all []*wireSession
	for _, s := range srv.sessions {
		all = append(all, s)
	}
	srv.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}
