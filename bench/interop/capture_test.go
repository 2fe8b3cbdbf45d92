// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package interop

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// recorder is a loopback proxy that forwards every connection to upstream
// and records the bytes of each direction of each connection.
type recorder struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup // the accept loop and every connection's copiers

	mu    sync.Mutex // guards conns and the buffers in it
	conns []*recording
}

// A recording is what one proxied connection carried.
type recording struct {
	toServer, toClient bytes.Buffer
}

func newRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, upstream: upstream}
	r.wg.Go(r.run)
	t.Cleanup(func() { _ = ln.Close(); r.wg.Wait() })
	return r
}

func (r *recorder) Addr() string { return r.ln.Addr().String() }

// run forwards every connection accepted until the listener is closed.
func (r *recorder) run() {
	for {
		down, err := r.ln.Accept()
		if err != nil {
			return
		}
		rec := &recording{}
		r.mu.Lock()
		r.conns = append(r.conns, rec)
		r.mu.Unlock()
		r.wg.Go(func() { r.forward(down, rec) })
	}
}

// forward copies each direction until EOF, then half-closes it, so every
// byte either side sent is recorded.
func (r *recorder) forward(down net.Conn, rec *recording) {
	defer func() { _ = down.Close() }()
	up, err := net.Dial("tcp", r.upstream)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, buf *bytes.Buffer) {
		b := make([]byte, 32<<10)
		for {
			n, err := src.Read(b)
			if n > 0 {
				r.mu.Lock()
				buf.Write(b[:n])
				r.mu.Unlock()
				if _, werr := dst.Write(b[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = dst.(*net.TCPConn).CloseWrite()
	}
	wg.Go(func() { pipe(up, down, &rec.toServer) })
	wg.Go(func() { pipe(down, up, &rec.toClient) })
	wg.Wait()
}

// wait stops accepting, waits for every proxied connection to end and
// returns what each carried, in the order they were accepted.
func (r *recorder) wait(t *testing.T) []*recording {
	t.Helper()
	_ = r.ln.Close()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("proxied connections did not end")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// cut writes stream into a real loopback TCP connection in chunks of random
// sizes and returns the messages a wire.Mux with parser p delivers from the
// other end, in order, once it has delivered want of them. It fails t if
// the mux delivers more.
func cut(t *testing.T, p wire.Parser, stream []byte, want int) [][]byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	var aborted []error
	var amu sync.Mutex
	mux, err := wire.NewMux(wire.Config{
		Parser:         p,
		MaxMessageSize: 1<<24 + 9,
		OnAbort: func(e *wire.AbortError) {
			amu.Lock()
			aborted = append(aborted, e)
			amu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mux.Close() }()
	if err := mux.Attach(c); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, uint64(len(stream))))
		for b := stream; len(b) > 0; {
			n := min(len(b), 1+rng.IntN(4096))
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
		_ = w.(*net.TCPConn).CloseWrite()
	})
	sock := mux.NewSocket()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var msgs [][]byte
	for len(msgs) < want {
		m, err := sock.Receive(ctx)
		if err != nil {
			amu.Lock()
			t.Fatalf("message %d of %d: %v (aborts: %v)", len(msgs)+1, want, err, aborted)
			amu.Unlock()
		}
		b := m.Bytes()
		if b == nil { // streamed: longer than the stream threshold
			if b, err = io.ReadAll(m); err != nil {
				t.Fatalf("read streamed message %d: %v", len(msgs)+1, err)
			}
			if int64(len(b)) != m.Len() {
				t.Fatalf("streamed message %d: read %d of %d bytes", len(msgs)+1, len(b), m.Len())
			}
		} else {
			b = bytes.Clone(b)
		}
		m.Release()
		msgs = append(msgs, b)
	}
	extra, cancelExtra := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancelExtra()
	if m, err := sock.Receive(extra); err == nil {
		t.Errorf("an extra %d-byte message after the last one", m.Len())
		m.Release()
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after the last message: %v, want a quiet mux", err)
	}
	amu.Lock()
	defer amu.Unlock()
	if len(aborted) > 0 {
		t.Errorf("connection aborted: %v", aborted)
	}
	return msgs
}
