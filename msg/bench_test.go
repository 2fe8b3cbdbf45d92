// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/wire"
)

// Benchmarks of the targets, each cheap enough for -benchtime=1x.
// Compare ratios from one run: BenchmarkSRR/tcp against
// BenchmarkRawTCP/pingpong-32B, BenchmarkMoveFrom/tcp-* against
// BenchmarkRawTCP/stream-1MiB.

// benchServer serves every request with handle, allocation-free (Serve
// reuses one Request).
func benchServer(b *testing.B, addr string, handle func(r *Request)) *Node {
	return benchServerCtx(b, context.Background(), addr, handle)
}

// benchServerCtx is benchServer serving until ctx ends.
func benchServerCtx(b *testing.B, ctx context.Context, addr string, handle func(r *Request)) *Node {
	n, err := NewNode(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Listen(context.Background(), addr); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = n.Serve(ctx, func(_ context.Context, r *Request) { handle(r) })
	}()
	b.Cleanup(func() {
		_ = n.Close()
		wg.Wait()
	})
	return n
}

func benchAddr(b *testing.B, tr string) string {
	switch tr {
	case "inproc":
		return "inproc://bench-" + b.Name()
	case "unix":
		return "unix://" + filepath.Join(b.TempDir(), "b.sock")
	}
	return "tcp://127.0.0.1:0"
}

// BenchmarkSRR is Send/Receive/Reply of a 32-byte message and reply. The
// "-cancel" cases send and serve with contexts that can be cancelled, as
// pollen bench msg and the daemon do (a context without a Done channel
// spares a Send some work).
func BenchmarkSRR(b *testing.B) {
	for _, tr := range []string{"inproc", "unix", "tcp", "inproc-cancel", "tcp-cancel"} {
		b.Run(tr, func(b *testing.B) {
			ctx := context.Background()
			if name, ok := strings.CutSuffix(tr, "-cancel"); ok {
				tr = name
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			server := benchServerCtx(b, ctx, benchAddr(b, tr), func(r *Request) { _ = r.Reply(r.Message()) })
			client, err := NewNode(Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = client.Close() }()
			m := make([]byte, 32)
			dst := make([]byte, 0, 32)
			dest := server.Addr()
			if _, err := client.AppendSend(ctx, dst, dest, m, nil, 0); err != nil { // connect
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(32)
			b.ResetTimer()
			for range b.N {
				if _, err := client.AppendSend(ctx, dst[:0], dest, m, nil, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMoveFrom moves 1 MiB from the sender's segment per Send:
// memory to memory, and file to file (sendfile out, splice in).
func BenchmarkMoveFrom(b *testing.B) {
	const size = 1 << 20
	for _, tr := range []string{"inproc", "tcp"} {
		for _, kind := range []string{"bytes", "file"} {
			b.Run(tr+"-"+kind+"-1MiB", func(b *testing.B) {
				dir := b.TempDir()
				var dst, seg Segment = Bytes(make([]byte, size)), Bytes(pattern(1, size))
				if kind == "file" {
					in := benchFile(b, filepath.Join(dir, "src"), size)
					out := benchFile(b, filepath.Join(dir, "dst"), 0)
					seg = FileRange{File: in, Length: size}
					dst = FileRange{File: out, Length: size}
				}
				server := benchServer(b, benchAddr(b, tr), func(r *Request) {
					if err := r.MoveFrom(context.Background(), 0, dst); err != nil {
						_ = r.Reply([]byte(err.Error()))
						return
					}
					_ = r.Reply(nil)
				})
				client, err := NewNode(Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = client.Close() }()
				dest := server.Addr()
				reply := make([]byte, 0, 256)
				b.ReportAllocs()
				b.SetBytes(size)
				b.ResetTimer()
				for range b.N {
					got, err := client.AppendSend(context.Background(), reply[:0], dest, []byte("read"), seg, Read)
					if err != nil || len(got) != 0 {
						b.Fatalf("%q %v", got, err)
					}
				}
			})
		}
	}
}

func benchFile(b *testing.B, path string, size int) *os.File {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	if size > 0 {
		if _, err := f.Write(pattern(2, size)); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// BenchmarkRawTCP is the baseline: plain Go TCP on loopback, a 32-byte
// ping-pong and a 1-byte request answered with 1 MiB.
func BenchmarkRawTCP(b *testing.B) {
	for _, c := range []struct {
		name      string
		req, resp int
	}{{"pingpong-32B", 32, 32}, {"stream-1MiB", 1, 1 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = ln.Close() }()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s, err := ln.Accept()
				if err != nil {
					return
				}
				defer func() { _ = s.Close() }()
				req, resp := make([]byte, c.req), make([]byte, c.resp)
				for {
					if _, err := io.ReadFull(s, req); err != nil {
						return
					}
					if _, err := s.Write(resp); err != nil {
						return
					}
				}
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			req, resp := make([]byte, c.req), make([]byte, c.resp)
			b.ReportAllocs()
			b.SetBytes(int64(max(c.req, c.resp)))
			b.ResetTimer()
			for range b.N {
				if _, err := conn.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, resp); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = conn.Close()
			<-done
		})
	}
}

// BenchmarkWirePingPong is the floor under remote SRR: a 32-byte pollen
// frame each way through two wire muxes on loopback TCP, one socket each,
// no msg layer.
func BenchmarkWirePingPong(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	var muxes []*wire.Mux
	mux := func(c net.Conn) *wire.Socket {
		m, err := wire.NewMux(wire.Config{})
		if err != nil {
			b.Fatal(err)
		}
		muxes = append(muxes, m)
		if err := m.Attach(c); err != nil {
			b.Fatal(err)
		}
		return m.NewSocket()
	}
	s1, s2 := mux(c1), mux(c2)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := s2.Receive(ctx)
			if err != nil {
				return
			}
			err = s2.Send(ctx, m.Bytes())
			m.Release()
			if err != nil {
				return
			}
		}
	}()
	frame := wire.FrameHeader{Length: 24, Version: wire.ProtocolVersion}.Append(nil)
	frame = append(frame, make([]byte, 24)...)
	b.ReportAllocs()
	b.SetBytes(32)
	b.ResetTimer()
	for range b.N {
		if err := s1.Send(ctx, frame); err != nil {
			b.Fatal(err)
		}
		m, err := s1.Receive(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m.Release()
	}
	b.StopTimer()
	for _, m := range muxes {
		_ = m.Close()
	}
	<-done
}
