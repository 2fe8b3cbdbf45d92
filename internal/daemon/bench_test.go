// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/msg"
)

// BenchmarkPeerTransfer moves one file from a seeding daemon to a fresh
// one over loopback, through the real scheduler: GetPiece over msg, the
// piece moved with one sendfile on the parent, hashed and written by the
// child. POLLEN_BENCH_SIZE sets the file size (default 1 GiB),
// POLLEN_BENCH_PIECE the piece size (default 4 MiB). Reported: throughput,
// and CPU seconds per GiB of both daemons together (user+system).
//
//	go test -run '^$' -bench PeerTransfer -benchtime 3x ./internal/daemon/
func BenchmarkPeerTransfer(b *testing.B) {
	size := envInt("POLLEN_BENCH_SIZE", 1<<30)
	psize := envInt("POLLEN_BENCH_PIECE", 4<<20)
	path := filepath.Join(b.TempDir(), "blob")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := genData(64<<20, 9)
	for off := int64(0); off < size; off += int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), size-off)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	url := "file://" + path
	ss := startScheduler(b, scheduler.Config{}, "")
	cfg := func() daemon.Config {
		return daemon.Config{
			DataDir: b.TempDir(), Scheduler: ss.addr, PieceSize: psize, Concurrency: 8,
			StallTimeout: time.Minute,
		}
	}
	seed := startDaemon(b, cfg())
	ctx := context.Background()
	tr, err := seed.Download(ctx, daemon.Request{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	if err := tr.Wait(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		d := startDaemon(b, cfg())
		c0 := cpuTime()
		tr, err := d.Download(ctx, daemon.Request{URL: url})
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		if p := tr.Progress(); p.FromPeers != size {
			b.Logf("got %d bytes from peers, %d from the source", p.FromPeers, p.FromSource)
		}
		b.StopTimer()
		_ = d.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N)/(float64(size)/(1<<30)), "cpu-s/GiB")
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPieceMove measures the transport the daemon uses for a piece,
// without storage or hashing: GetPiece-sized requests over msg granting a
// 4 MiB buffer, answered by MoveTo from a file (sendfile), 8 in flight, as
// BenchmarkPeerTransfer's child does. The gap between the two benchmarks
// is what verification and the piece store cost.
//
//	go test -run '^$' -bench PieceMove ./internal/daemon/
func BenchmarkPieceMove(b *testing.B) {
	const pieceSize, pieces, inflight = 4 << 20, 64, 8
	path := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(path, genData(pieceSize*pieces, 11), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	server, err := msg.NewNode(msg.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = server.Close() }()
	if err := server.Listen(ctx, "tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			r, err := server.Receive(ctx)
			if err != nil {
				return
			}
			go func() {
				i := int64(r.Message()[0])
				if err := r.MoveTo(ctx, 0, msg.FileRange{File: f, Offset: i * pieceSize, Length: pieceSize}); err != nil {
					_ = r.Reply(nil)
					return
				}
				_ = r.Reply([]byte{1})
			}()
		}
	}()
	client, err := msg.NewNode(msg.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	b.SetBytes(pieceSize * pieces)
	b.ResetTimer()
	c0 := cpuTime()
	for range b.N {
		var wg sync.WaitGroup
		next := make(chan int, pieces)
		for i := range pieces {
			next <- i
		}
		close(next)
		for range inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, pieceSize)
				for i := range next {
					if _, err := client.SendWithSegment(ctx, server.Addr(), []byte{byte(i)}, msg.Bytes(buf), msg.Write); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N)/(float64(pieceSize*pieces)/(1<<30)), "cpu-s/GiB")
}

// BenchmarkStream streams a 32 MiB file:// object through one daemon (no
// scheduler) in stream mode to a consumer that discards the bytes: the
// window's fetch, commit and in-order delivery, with no disk write. The
// body is one whole stream, so -benchtime=1x is a complete measurement.
//
//	go test -run '^$' -bench Stream -benchtime 5x ./internal/daemon/
func BenchmarkStream(b *testing.B) {
	const size = 32 << 20
	path := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(path, genData(size, 51), 0o600); err != nil {
		b.Fatal(err)
	}
	d := startDaemon(b, daemon.Config{DataDir: b.TempDir(), PieceSize: 1 << 20, StreamWindow: 16, StreamLinger: time.Millisecond})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		s, err := d.Stream(ctx, daemon.Request{URL: "file://" + path + "?" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		n, err := s.WriteTo(io.Discard)
		_ = s.Close()
		if err != nil || n != size {
			b.Fatalf("streamed %d bytes: %v", n, err)
		}
	}
}
