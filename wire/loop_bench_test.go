// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// loopConn is an in-memory net.Conn that reads back what was written to it,
// so one socket can send a message and receive it again without the kernel:
// BenchmarkLoop measures wire's own work per message.
type loopConn struct {
	mu       sync.Mutex // guards the following fields
	buf      []byte
	off      int
	closed   bool
	deadline time.Time
	wake     chan struct{} // capacity 1: data, close or deadline
}

func newLoopConn() *loopConn { return &loopConn{wake: make(chan struct{}, 1)} }

func (c *loopConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *loopConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		switch {
		case c.off < len(c.buf):
			n := copy(p, c.buf[c.off:])
			c.off += n
			if c.off == len(c.buf) {
				c.buf, c.off = c.buf[:0], 0
			}
			c.mu.Unlock()
			return n, nil
		case c.closed:
			c.mu.Unlock()
			return 0, net.ErrClosed
		case !c.deadline.IsZero() && !time.Now().Before(c.deadline):
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		c.mu.Unlock()
		<-c.wake
	}
}

func (c *loopConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	c.signal()
	return len(p), nil
}

func (c *loopConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *loopConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *loopConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *loopConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *loopConn) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *loopConn) SetWriteDeadline(t time.Time) error { return nil }

// BenchmarkLoop sends a message and receives it again through one mux over
// a loopConn, in one goroutine: wire's own cost of one Send and one Recv
// (or Receive) by message size, with no system call.
func BenchmarkLoop(b *testing.B) {
	for _, size := range []int{1, 32, 100, 1000} {
		msg := FrameHeader{Length: uint32(size), Version: ProtocolVersion}.Append(nil)
		msg = append(msg, make([]byte, size)...)
		for _, recv := range []string{"Recv", "Receive"} {
			b.Run(fmt.Sprintf("%dB/%s", size, recv), func(b *testing.B) {
				m, err := NewMux(Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				if err := m.Attach(newLoopConn()); err != nil {
					b.Fatal(err)
				}
				s := m.NewSocket()
				ctx := context.Background()
				buf := make([]byte, len(msg))
				// Until a receiver has taken the read token once, the
				// reader goroutine reads ahead: let it step back.
				for range 100 {
					if err := s.Send(ctx, msg); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Recv(ctx, buf); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(msg)))
				b.ResetTimer()
				for range b.N {
					if err := s.Send(ctx, msg); err != nil {
						b.Fatal(err)
					}
					if recv == "Recv" {
						if _, err := s.Recv(ctx, buf); err != nil {
							b.Fatal(err)
						}
						continue
					}
					rm, err := s.Receive(ctx)
					if err != nil {
						b.Fatal(err)
					}
					rm.Release()
				}
			})
		}
	}
}
