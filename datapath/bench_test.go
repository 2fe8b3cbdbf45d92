// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"net"
	"sync"
	"testing"
)

// benchSize keeps `go test -bench . -benchtime 1x` quick; `pollen bench
// datapath` is where the sizes the claims need are measured.
const benchSize = 4 << 20

// BenchmarkUpload measures each server path into a discarding client.
func BenchmarkUpload(b *testing.B) {
	linuxOnly(b)
	src, _ := source(b, benchSize)
	for _, up := range Uploads() {
		b.Run(up.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(benchSize)
			var c Counts
			for b.Loop() {
				benchTransfer(b, func(conn *net.TCPConn) error {
					_, err := up.Send(conn, src, 0, benchSize, &c)
					return err
				}, func(conn *net.TCPConn) error {
					var cc Counts
					_, err := ReadDiscard(conn, benchSize, make([]byte, 1<<20), &cc)
					return err
				})
			}
			b.ReportMetric(float64(c.Syscalls)/float64(b.N), "syscalls/op")
		})
	}
}

// BenchmarkDownload measures each client path from a sendfile server.
func BenchmarkDownload(b *testing.B) {
	linuxOnly(b)
	src, _ := source(b, benchSize)
	dst := sink(b)
	for _, down := range Downloads() {
		b.Run(down.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(benchSize)
			var c Counts
			for b.Loop() {
				benchTransfer(b, func(conn *net.TCPConn) error {
					var sc Counts
					_, err := SendFile(conn, src, 0, benchSize, &sc)
					return err
				}, func(conn *net.TCPConn) error {
					_, err := down.Receive(dst, 0, conn, benchSize, &c)
					return err
				})
			}
			b.ReportMetric(float64(c.Syscalls)/float64(b.N), "syscalls/op")
		})
	}
}

// BenchmarkStream measures each streaming path into a draining receiver
// (loopback may drop; the sender's cost is what is measured).
func BenchmarkStream(b *testing.B) {
	linuxOnly(b)
	src, _ := source(b, benchSize)
	for _, st := range Streams() {
		b.Run(st.Name, func(b *testing.B) {
			recv, conn, err := udpPair()
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			var wg sync.WaitGroup
			wg.Go(func() {
				var rc Counts
				_ = ReceiveDatagrams(recv, 0, func([]byte) error { return nil }, &rc)
			})
			defer wg.Wait()
			defer func() { _ = recv.Close() }()
			b.ReportAllocs()
			b.SetBytes(benchSize)
			var c Counts
			for b.Loop() {
				if _, err := st.Send(conn, src, 0, benchSize, Header{Stream: 1}, &c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.Syscalls)/float64(b.N), "syscalls/op")
		})
	}
}

func benchTransfer(b *testing.B, up, down func(*net.TCPConn) error) {
	b.Helper()
	server, client, err := tcpPair()
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() {
		defer func() { _ = server.Close() }()
		serr = up(server)
	})
	cerr := down(client)
	_ = client.Close()
	wg.Wait()
	if serr != nil || cerr != nil {
		b.Fatalf("server: %v; client: %v", serr, cerr)
	}
}
