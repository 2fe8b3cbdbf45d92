// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRawSockKinds(t *testing.T) {
	x, y := tcpPair(t)
	if newRawSock(x) == nil || newRawSock(y) == nil {
		t.Fatal("no raw socket for TCP")
	}
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	u, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if newRawSock(u) == nil {
		t.Fatal("no raw socket for a Unix stream")
	}
	p, q := pipePair(t)
	if newRawSock(p) != nil || newRawSock(q) != nil {
		t.Fatal("a raw socket for net.Pipe")
	}
}

// TestRawSockWritevPartial writes more buffers than one writev takes, and
// more bytes than the socket buffers hold, to a slow reader: every byte
// arrives, in order, through partial writes and waits for room.
func TestRawSockWritevPartial(t *testing.T) {
	x, y := tcpPair(t)
	x.(*net.TCPConn).SetWriteBuffer(16 << 10)
	y.(*net.TCPConn).SetReadBuffer(16 << 10)
	var bufs [][]byte
	var want bytes.Buffer
	for i := range 3000 { // > maxIovecs
		b := make([]byte, 1+i%1500)
		for j := range b {
			b[j] = byte(i*31 + j)
		}
		if i%7 == 0 {
			b = nil // empty buffers are skipped
		}
		bufs = append(bufs, b)
		want.Write(b)
	}
	got := make(chan []byte, 1)
	go func() {
		var all bytes.Buffer
		buf := make([]byte, 4<<10)
		for all.Len() < want.Len() {
			n, err := y.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- all.Bytes()
	}()
	s := newRawSock(x)
	n, err := s.writev(bufs)
	if err != nil || n != int64(want.Len()) {
		t.Fatalf("writev: %d of %d bytes, %v", n, want.Len(), err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("received %d bytes, not the %d written", len(b), want.Len())
	}
	// A single write, then readv into two buffers from the other end.
	if _, err := newRawSock(y).write([]byte("hello, world")); err != nil {
		t.Fatal(err)
	}
	a, b := make([]byte, 5), make([]byte, 64)
	// On loopback one write is one segment, read by one readv.
	m, err := s.readv(a, b)
	if err != nil || m != 12 || string(a)+string(b[:m-5]) != "hello, world" {
		t.Fatalf("readv: %d bytes %q %q, %v", m, a, b[:max(m-5, 0)], err)
	}
}

// TestRawSockErrors: the errors look like a net.Conn's, so wire's
// classification (isConnErr, deadlines, end of file) holds.
func TestRawSockErrors(t *testing.T) {
	x, y := tcpPair(t)
	s := newRawSock(x)
	x.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := s.readv(make([]byte, 10), nil); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	x.SetReadDeadline(time.Time{})
	y.Close()
	if n, err := s.readv(make([]byte, 10), nil); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the peer's close: %d, %v", n, err)
	}

	x, y = tcpPair(t)
	s = newRawSock(x)
	y.(*net.TCPConn).SetLinger(0)
	y.Close() // reset
	var err error
	for range 100 { // the reset may take a write or two to be seen
		if _, err = s.write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	var ne net.Error
	reset := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	if !errors.As(err, &ne) || !isConnErr(err) || !reset {
		t.Fatalf("write after a reset: %v", err)
	}
}
