// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/wire/wiretest"
)

// Benchmarks come in pairs: the mux, and raw Go TCP doing the same work in
// the same run (sub-benchmark "tcp"). Compare ratios, not absolute numbers.

func benchTCPPair(b *testing.B) (*net.TCPConn, *net.TCPConn) {
	x, y, err := wiretest.TCPPair()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Close(); y.Close() })
	return x, y
}

// benchMuxes connects a client and a server mux with n loopback TCP
// connections.
func benchMuxes(b *testing.B, n int) (client, server *Mux) {
	var err error
	if client, err = NewMux(Config{}); err != nil {
		b.Fatal(err)
	}
	if server, err = NewMux(Config{}); err != nil {
		b.Fatal(err)
	}
	for range n {
		x, y := benchTCPPair(b)
		client.Attach(x)
		server.Attach(y)
	}
	b.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// echo answers every message received on m with a copy, from n goroutines.
func echo(b *testing.B, m *Mux, n int) {
	var wg sync.WaitGroup
	b.Cleanup(func() { m.Close(); wg.Wait() })
	for range n {
		s := m.NewSocket()
		buf := make([]byte, 64<<10)
		wg.Go(func() {
			for {
				k, err := s.Recv(context.Background(), buf)
				if err != nil {
					return
				}
				if err := s.Send(context.Background(), buf[:k]); err != nil {
					return
				}
			}
		})
	}
}

func BenchmarkRR(b *testing.B) {
	for _, size := range []int{1, 100} {
		msg := FrameHeader{Length: uint32(size), Version: ProtocolVersion}.Append(nil)
		msg = append(msg, make([]byte, size)...)
		b.Run(sizeName(size)+"/mux", func(b *testing.B) {
			client, server := benchMuxes(b, 1)
			echo(b, server, 1)
			s := client.NewSocket()
			buf := make([]byte, len(msg))
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if err := s.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Recv(ctx, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tps")
		})
		b.Run(sizeName(size)+"/tcp", func(b *testing.B) {
			x, y := benchTCPPair(b)
			go tcpEcho(y, len(msg))
			buf := make([]byte, len(msg))
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := x.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(x, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tps")
		})
	}
}

// tcpEcho echoes fixed-size messages until the connection fails.
func tcpEcho(c net.Conn, size int) {
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func sizeName(n int) string {
	switch n {
	case 1:
		return "1B"
	case 100:
		return "100B"
	}
	return "n"
}

// BenchmarkRRConcurrent runs request/response from 200 concurrent senders:
// over one mux with one and with four TCP connections, and over 200 raw TCP
// connections.
func BenchmarkRRConcurrent(b *testing.B) {
	const senders = 200
	msg := FrameHeader{Length: 1, Version: ProtocolVersion}.Append(nil)
	msg = append(msg, 'x')
	for _, conns := range []int{1, 4} {
		b.Run("mux-"+string(rune('0'+conns))+"conn", func(b *testing.B) {
			client, server := benchMuxes(b, conns)
			echo(b, server, senders)
			b.SetParallelism((senders + 1) / 2)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				s := client.NewSocket()
				buf := make([]byte, len(msg))
				ctx := context.Background()
				for pb.Next() {
					if err := s.Send(ctx, msg); err != nil {
						b.Error(err)
						return
					}
					if _, err := s.Recv(ctx, buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tps")
			reportBatching(b, client, server)
		})
	}
	b.Run("tcp-200conn", func(b *testing.B) {
		var mu sync.Mutex
		var pool []*net.TCPConn
		for range senders {
			x, y := benchTCPPair(b)
			go tcpEcho(y, len(msg))
			pool = append(pool, x)
		}
		b.SetParallelism((senders + 1) / 2)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			x := pool[len(pool)-1]
			pool = pool[:len(pool)-1]
			mu.Unlock()
			buf := make([]byte, len(msg))
			for pb.Next() {
				if _, err := x.Write(msg); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(x, buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tps")
	})
}

// BenchmarkStream64K streams 64 KiB messages one way.
func BenchmarkStream64K(b *testing.B) {
	const size = 64 << 10
	msg := FrameHeader{Length: size, Version: ProtocolVersion}.Append(nil)
	msg = append(msg, make([]byte, size)...)
	b.Run("mux", func(b *testing.B) {
		client, server := benchMuxes(b, 1)
		s, r := client.NewSocket(), server.NewSocket()
		ctx := context.Background()
		done := make(chan struct{})
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		b.ResetTimer()
		go func() {
			defer close(done)
			buf := make([]byte, len(msg))
			for range b.N {
				if _, err := r.Recv(ctx, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for range b.N {
			if err := s.Send(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	})
	b.Run("mux-receive", func(b *testing.B) {
		// Receive hands over the message buffer: no copy to the caller.
		client, server := benchMuxes(b, 1)
		s, r := client.NewSocket(), server.NewSocket()
		ctx := context.Background()
		done := make(chan struct{})
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		b.ResetTimer()
		go func() {
			defer close(done)
			for range b.N {
				m, err := r.Receive(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				if len(m.Bytes()) != len(msg) {
					b.Error("short message")
				}
				m.Release()
			}
		}()
		for range b.N {
			if err := s.Send(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	})
	b.Run("tcp", func(b *testing.B) {
		x, y := benchTCPPair(b)
		done := make(chan struct{})
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		b.ResetTimer()
		go func() {
			defer close(done)
			buf := make([]byte, len(msg))
			for range b.N {
				if _, err := io.ReadFull(y, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for range b.N {
			if _, err := x.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	})
}

// reportBatching reports how many messages each vectored write carried, and
// how many each read returned, on both sides.
func reportBatching(b *testing.B, client, server *Mux) {
	c, s := client.Stats().Mux, server.Stats().Mux
	if w := c.TxWrites + s.TxWrites; w > 0 {
		b.ReportMetric(float64(c.TxMsgs+s.TxMsgs)/float64(w), "msgs/write")
	}
	if r := c.RxReads + s.RxReads; r > 0 {
		b.ReportMetric(float64(c.RxMsgs+s.RxMsgs)/float64(r), "msgs/read")
	}
}
