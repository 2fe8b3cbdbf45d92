// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// linuxOnly skips tests of the system-call paths elsewhere: other
// platforms have only the buffered fallbacks.
func linuxOnly(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("system-call paths are Linux only")
	}
}

// source writes size random bytes to a file in t.TempDir and returns it
// open, with its content.
func source(tb testing.TB, size int) (*os.File, []byte) {
	tb.Helper()
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size)})
	_, _ = r.Read(data)
	path := filepath.Join(tb.TempDir(), "source")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f, data
}

func sink(tb testing.TB) *os.File {
	tb.Helper()
	f, err := os.Create(filepath.Join(tb.TempDir(), "sink"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

func sameFile(t *testing.T, f *os.File, want []byte) {
	t.Helper()
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("sink has %d bytes, sha256 differs from the %d-byte source", len(got), len(want))
	}
}

// transfer runs up and down on the two ends of a fresh loopback TCP
// connection and returns both sides' counts.
func transfer(t *testing.T, up func(dst *net.TCPConn, c *Counts) error, down func(src *net.TCPConn, c *Counts) error) (sc, cc Counts) {
	t.Helper()
	server, client, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	var wg sync.WaitGroup
	var serr error
	wg.Go(func() {
		defer func() { _ = server.Close() }()
		serr = up(server, &sc)
	})
	cerr := down(client, &cc)
	_ = client.Close()
	wg.Wait()
	if serr != nil || cerr != nil {
		t.Fatalf("server: %v; client: %v", serr, cerr)
	}
	return sc, cc
}

const (
	testSize = 8 << 20
	testOff  = 4097 // not page aligned: mmap must map from the page below
)

// TestUploads moves a file range with every server path to a client that
// writes it to a file, and checks the bytes and the call counts.
func TestUploads(t *testing.T) {
	linuxOnly(t)
	src, data := source(t, testSize+5000)
	calls := map[string]int64{}
	for _, up := range Uploads() {
		t.Run(up.Name, func(t *testing.T) {
			dst := sink(t)
			sc, _ := transfer(t,
				func(conn *net.TCPConn, c *Counts) error {
					n, err := up.Send(conn, src, testOff, testSize, c)
					if err == nil && n != testSize {
						t.Errorf("sent %d", n)
					}
					return err
				},
				func(conn *net.TCPConn, c *Counts) error {
					_, err := ReadWriteFile(dst, 0, conn, testSize, make([]byte, 64<<10), c)
					return err
				})
			sameFile(t, dst, data[testOff:testOff+testSize])
			if sc.Bytes != testSize {
				t.Errorf("counted %d bytes", sc.Bytes)
			}
			calls[up.Name] = sc.Syscalls
		})
	}
	t.Logf("system calls for %d bytes: %v", testSize, calls)
	// 8 MiB in 32 KiB buffers is 256 preads and at least 256 writes.
	if c := calls["readwrite-32k"]; c < 2*testSize/(32<<10) {
		t.Errorf("readwrite-32k: %d calls, want at least %d", c, 2*testSize/(32<<10))
	}
	if c := calls["mmap"]; c < 2+testSize/(1<<20) {
		t.Errorf("mmap: %d calls, want at least %d", c, 2+testSize/(1<<20))
	}
	for _, name := range []string{"sendfile", "splice"} {
		if c := calls[name]; c == 0 || c*4 > calls["readwrite-32k"] {
			t.Errorf("%s: %d calls, want some and well under readwrite-32k's %d", name, c, calls["readwrite-32k"])
		}
	}
}

// TestDownloads receives with every client path from a sendfile server
// and checks the file (or, for discard, the count).
func TestDownloads(t *testing.T) {
	linuxOnly(t)
	src, data := source(t, testSize+5000)
	for _, down := range Downloads() {
		t.Run(down.Name, func(t *testing.T) {
			dst := sink(t)
			_, cc := transfer(t,
				func(conn *net.TCPConn, c *Counts) error {
					_, err := SendFile(conn, src, testOff, testSize, c)
					return err
				},
				func(conn *net.TCPConn, c *Counts) error {
					n, err := down.Receive(dst, 0, conn, testSize, c)
					if err == nil && n != testSize {
						t.Errorf("received %d", n)
					}
					return err
				})
			if cc.Bytes != testSize || cc.Syscalls == 0 {
				t.Errorf("counts %+v", cc)
			}
			if down.Name != "discard" {
				sameFile(t, dst, data[testOff:testOff+testSize])
			}
		})
	}
}

// writerOnly hides every method but Write, so SendFile cannot reach the
// socket's descriptor (as behind a TLS or rate-limiting wrapper).
type writerOnly struct{ io.Writer }

type readerOnly struct{ io.Reader }

// TestFallbacks moves a file through SendFile and ReceiveFile when neither
// can reach a descriptor, then with both zero-copy paths.
func TestFallbacks(t *testing.T) {
	const size = 1<<20 + 3
	src, data := source(t, size)
	for _, wrap := range []bool{true, false} {
		dst := sink(t)
		sc, cc := transfer(t,
			func(conn *net.TCPConn, c *Counts) error {
				var w io.Writer = conn
				if wrap {
					w = writerOnly{conn}
				}
				_, err := SendFile(w, src, 0, size, c)
				return err
			},
			func(conn *net.TCPConn, c *Counts) error {
				var r io.Reader = conn
				if wrap {
					r = readerOnly{conn}
				}
				_, err := ReceiveFile(dst, 3, r, size, c)
				return err
			})
		got, err := os.ReadFile(dst.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[3:], data) || sc.Bytes != size || cc.Bytes != size {
			t.Fatalf("wrapped=%v: sink %d bytes, counts %+v %+v", wrap, len(got), sc, cc)
		}
	}
	// Cut short: the client must see io.ErrUnexpectedEOF, not hang.
	server, client, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		var c Counts
		_, _ = SendFile(server, src, 0, 100, &c)
		_ = server.Close()
	}()
	var c Counts
	_, err = ReceiveFile(sink(t), 0, client, size, &c)
	<-sent // the sender uses src, which the test's cleanup closes
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short stream: err %v", err)
	}
}
