// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// TestSendFileRangeSendfile: ranges of one file sent at once over loopback
// TCP by concurrent callers arrive intact, all through sendfile (handled,
// nothing left for the copying fallback), and leave the file's offset
// alone. The 4 MiB range is larger than a loopback socket's send buffer
// starts, so that one also waits for room in between.
func TestSendFileRangeSendfile(t *testing.T) {
	f, data := patternFile(t, 6<<20)
	const pos = 777
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ranges := [][2]int64{{0, 1 << 20}, {12345, 4<<20 + 1}, {3 << 20, 1 << 20}, {6<<20 - 1, 1}}
	var wg sync.WaitGroup
	for _, r := range ranges {
		a, b := tcpPair(t)
		got := make(chan []byte, 1)
		go func() {
			buf, _ := io.ReadAll(b)
			got <- buf
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, handled, err := sendFileRange(a, f, r[0], r[1])
			_ = a.Close()
			if !handled || err != nil || n != r[1] {
				t.Errorf("sendFileRange(%d, %d) = %d, %v, %v", r[0], r[1], n, handled, err)
			}
			if buf := <-got; !bytes.Equal(buf, data[r[0]:r[0]+r[1]]) {
				t.Errorf("range (%d, %d): received %d bytes, not the file's", r[0], r[1], len(buf))
			}
		}()
	}
	wg.Wait()
	if off, _ := f.Seek(0, io.SeekCurrent); off != pos {
		t.Errorf("file offset moved to %d", off)
	}
}

// TestSendFileRangeShortFile: a range that runs past the end of the file
// sends what there is and reports the short count without an error (the
// caller turns it into io.ErrUnexpectedEOF).
func TestSendFileRangeShortFile(t *testing.T) {
	f, data := patternFile(t, 100_000)
	a, b := tcpPair(t)
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()
	n, handled, err := sendFileRange(a, f, 90_000, 20_000)
	_ = a.Close()
	if !handled || err != nil || n != 10_000 {
		t.Fatalf("sendFileRange past the end = %d, %v, %v; want 10000, true, nil", n, handled, err)
	}
	if buf := <-got; !bytes.Equal(buf, data[90_000:]) {
		t.Fatalf("received %d bytes, not the file's last 10000", len(buf))
	}
}

// TestSendFileRangeRefused: a source the kernel cannot sendfile from (a
// pipe) is not handled, and nothing is written: the caller copies.
func TestSendFileRangeRefused(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := pw.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	a, _ := tcpPair(t)
	n, handled, err := sendFileRange(a, pr, 0, 3)
	if handled || err != nil || n != 0 {
		t.Fatalf("sendFileRange from a pipe = %d, %v, %v; want 0, false, nil", n, handled, err)
	}
}

// TestSendFileRangeDeadline: the connection's write deadline holds, and
// its expiry is the connection's error.
func TestSendFileRangeDeadline(t *testing.T) {
	f, _ := patternFile(t, 1<<20)
	a, _ := tcpPair(t)
	if err := a.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	n, handled, err := sendFileRange(a, f, 0, 1<<20)
	if !handled || !errors.Is(err, os.ErrDeadlineExceeded) || !isConnErr(err) {
		t.Fatalf("sendFileRange after the deadline = %d, %v, %v; want a deadline error", n, handled, err)
	}
}

// TestSendFileRangeNotTCP: a connection that is not TCP is not handled.
func TestSendFileRangeNotTCP(t *testing.T) {
	f, _ := patternFile(t, 10)
	a, _ := pipePair(t)
	if n, handled, err := sendFileRange(a, f, 0, 10); handled || err != nil || n != 0 {
		t.Fatalf("sendFileRange over a pipe conn = %d, %v, %v; want 0, false, nil", n, handled, err)
	}
}
