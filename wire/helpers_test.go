// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/wire/wiretest"
)

// checkLeaks fails t if goroutines started during the test are still
// running (after a grace period) when it ends.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, interesting(buf))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// interesting keeps the stacks that mention package wire.
func interesting(stacks []byte) string {
	var out []string
	for _, g := range strings.Split(string(stacks), "\n\n") {
		if strings.Contains(g, "pollen/wire") && !strings.Contains(g, "checkLeaks") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// pairFunc makes the two ends of a connection.
type pairFunc func(t *testing.T) (net.Conn, net.Conn)

func pipePair(t *testing.T) (net.Conn, net.Conn) {
	a, b := wiretest.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	a, b, err := wiretest.TCPPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func tcpPairReversed(t *testing.T) (net.Conn, net.Conn) {
	a, b := tcpPair(t)
	return b, a
}

// testConnTypes runs body over in-memory pipes, loopback TCP, and loopback
// TCP with the ends swapped.
func testConnTypes(t *testing.T, body func(t *testing.T, pair pairFunc)) {
	for _, tc := range []struct {
		name string
		pair pairFunc
	}{{"pipe", pipePair}, {"tcp", tcpPair}, {"tcp-reversed", tcpPairReversed}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			body(t, tc.pair)
		})
	}
}

// muxPair is two muxes connected by n connections.
type muxPair struct {
	a, b    *Mux
	ac, bc  []net.Conn
	aborts  chan *AbortError // from b
	abortsA chan *AbortError // from a
	sa, sb  *Socket
}

func newMuxPair(t *testing.T, cfg Config, n int, pair pairFunc) *muxPair {
	t.Helper()
	p := newMuxes(t, cfg)
	for range n {
		p.attach(t, pair)
	}
	p.sa, p.sb = p.a.NewSocket(), p.b.NewSocket()
	return p
}

// newMuxes returns a muxPair with its muxes but no connections or sockets.
func newMuxes(t *testing.T, cfg Config) *muxPair {
	t.Helper()
	p := &muxPair{aborts: make(chan *AbortError, 100), abortsA: make(chan *AbortError, 100)}
	cfgA, cfgB := cfg, cfg
	cfgA.OnAbort = func(e *AbortError) { p.abortsA <- e }
	cfgB.OnAbort = func(e *AbortError) { p.aborts <- e }
	var err error
	if p.a, err = NewMux(cfgA); err != nil {
		t.Fatal(err)
	}
	if p.b, err = NewMux(cfgB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.a.Close(); _ = p.b.Close() })
	return p
}

// attach connects p's muxes with one more connection.
func (p *muxPair) attach(t *testing.T, pair pairFunc) {
	t.Helper()
	x, y := pair(t)
	p.ac = append(p.ac, x)
	p.bc = append(p.bc, y)
	if err := p.a.Attach(x); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Attach(y); err != nil {
		t.Fatal(err)
	}
}

// drainAsync receives and releases messages on s in a goroutine until
// Receive fails.
func drainAsync(s *Socket) {
	go func() {
		for {
			msg, err := s.Receive(context.Background())
			if err != nil {
				return
			}
			msg.Release()
		}
	}()
}

// frame returns a pollen frame with a payload of size bytes that encodes id
// and a pattern derived from it, so that checkFrame can verify it alone.
func frame(id uint64, size int) []byte {
	if size < 8 {
		size = 8
	}
	b := FrameHeader{Length: uint32(size), Version: ProtocolVersion, Type: 7}.Append(make([]byte, 0, FrameHeaderLen+size))
	b = binary.BigEndian.AppendUint64(b, id)
	for i := 8; i < size; i++ {
		b = append(b, byte(id*131+uint64(i)*7))
	}
	return b
}

// checkFrame verifies a frame made by frame and returns its id.
func checkFrame(b []byte) (uint64, error) {
	h, n, err := ParseFrameHeader(b)
	if err != nil {
		return 0, err
	}
	if int(h.Length) != len(b)-n || h.Length < 8 {
		return 0, fmt.Errorf("frame length %d, have %d payload bytes", h.Length, len(b)-n)
	}
	id := binary.BigEndian.Uint64(b[n:])
	if want := frame(id, int(h.Length)); !bytes.Equal(b, want) {
		return id, fmt.Errorf("frame %d corrupt", id)
	}
	return id, nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recvFrame receives one message on s and checks it.
func recvFrame(t *testing.T, s *Socket) uint64 {
	t.Helper()
	msg, err := s.Receive(ctxT(t))
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	defer msg.Release()
	b := msg.Bytes()
	if b == nil {
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatalf("read streamed message: %v", err)
		}
		b = buf.Bytes()
	}
	id, err := checkFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
