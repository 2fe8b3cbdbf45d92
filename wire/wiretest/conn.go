// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wiretest

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Pipe returns the two ends of a synchronous in-memory connection
// ([net.Pipe]): a Write blocks until the other end has read all of it.
func Pipe() (net.Conn, net.Conn) { return net.Pipe() }

// TCPPair returns the two ends of a fresh loopback TCP connection: a is the
// dialing end, b the accepted one.
func TCPPair() (a, b *net.TCPConn, err error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = ln.Close() }()
	type result struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- result{c, err}
	}()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	r := <-ch
	if err != nil || r.err != nil {
		if a != nil {
			_ = a.Close()
		}
		if r.c != nil {
			_ = r.c.Close()
		}
		return nil, nil, errors.Join(err, r.err)
	}
	return a, r.c, nil
}

// Faults describes what a [FaultConn] does to writes. The zero value
// changes nothing.
type Faults struct {
	// WriteChunk splits every Write into writes of at most this many bytes
	// to the underlying connection, so the peer sees the stream cut at
	// arbitrary places. 0 means no splitting.
	WriteChunk int
	// WriteDelay is slept before each chunk: with WriteChunk 1, a peer that
	// sends one byte per interval.
	WriteDelay time.Duration
	// FailAfter, when > 0, lets this many bytes through in total; the Write
	// that would go past it writes up to the limit, then closes the
	// connection and returns [ErrInjected]: a connection lost mid-message.
	FailAfter int64
	// Reset makes the close done by FailAfter a TCP reset (SO_LINGER 0)
	// when the underlying connection is a *net.TCPConn.
	Reset bool
	// StallAfter, when > 0, lets this many bytes through in total; later
	// writes block until [FaultConn.Unstall] or Close.
	StallAfter int64
}

// ErrInjected is the error of a write failed by [Faults.FailAfter].
var ErrInjected = errors.New("wiretest: injected write failure")

// A FaultConn wraps a connection and injects the write faults described by
// its [Faults]. Reads pass through. It hides the underlying connection's
// type, so code that looks for a *net.TCPConn takes its generic path.
type FaultConn struct {
	net.Conn
	f Faults

	mu       sync.Mutex // guards the following fields
	written  int64
	failed   bool
	unstall  chan struct{}
	unstalld bool
	closed   chan struct{}
	closeOne sync.Once
}

// NewFaultConn returns c with the faults f.
func NewFaultConn(c net.Conn, f Faults) *FaultConn {
	return &FaultConn{Conn: c, f: f, unstall: make(chan struct{}), closed: make(chan struct{})}
}

// Written returns the bytes let through so far.
func (c *FaultConn) Written() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// Unstall lets stalled and future writes through.
func (c *FaultConn) Unstall() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.unstalld {
		c.unstalld = true
		close(c.unstall)
	}
}

// Close closes the underlying connection and wakes stalled writes.
func (c *FaultConn) Close() error {
	c.closeOne.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Write writes p with the configured faults.
func (c *FaultConn) Write(p []byte) (int, error) {
	var n int
	for n < len(p) {
		chunk := p[n:]
		if c.f.WriteChunk > 0 && len(chunk) > c.f.WriteChunk {
			chunk = chunk[:c.f.WriteChunk]
		}
		c.mu.Lock()
		if c.failed {
			c.mu.Unlock()
			return n, ErrInjected
		}
		if c.f.FailAfter > 0 && c.written+int64(len(chunk)) > c.f.FailAfter {
			chunk = chunk[:c.f.FailAfter-c.written]
			c.failed = true
		}
		stall := c.f.StallAfter > 0 && !c.unstalld && c.written+int64(len(chunk)) > c.f.StallAfter
		if stall {
			chunk = chunk[:c.f.StallAfter-c.written]
		}
		failing := c.failed
		c.mu.Unlock()

		if c.f.WriteDelay > 0 {
			time.Sleep(c.f.WriteDelay)
		}
		if len(chunk) > 0 {
			k, err := c.Conn.Write(chunk)
			c.mu.Lock()
			c.written += int64(k)
			c.mu.Unlock()
			n += k
			if err != nil {
				return n, err
			}
		}
		if failing {
			if tc, ok := c.Conn.(*net.TCPConn); ok && c.f.Reset {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
			return n, ErrInjected
		}
		if stall {
			select {
			case <-c.unstall:
			case <-c.closed:
				return n, net.ErrClosed
			}
		}
	}
	return n, nil
}
