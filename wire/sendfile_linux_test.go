// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSendFileRangeSendfile: ranges of one file sent at once over loopback
// TCP by concurrent callers, each behind its header, arrive intact, all
// through sendfile (handled,
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
			head := []byte(fmt.Sprintf("range %d+%d:", r[0], r[1]))
			hn, n, handled, err := sendFileRange(a, head, f, r[0], r[1])
			_ = a.Close()
			if hn != len(head) || !handled || err != nil || n != r[1] {
				t.Errorf("sendFileRange(%d, %d) = %d, %d, %v, %v", r[0], r[1], hn, n, handled, err)
			}
			if buf := <-got; !bytes.Equal(buf, append(head, data[r[0]:r[0]+r[1]]...)) {
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
	_, n, handled, err := sendFileRange(a, nil, f, 90_000, 20_000)
	_ = a.Close()
	if !handled || err != nil || n != 10_000 {
		t.Fatalf("sendFileRange past the end = %d, %v, %v; want 10000, true, nil", n, handled, err)
	}
	if buf := <-got; !bytes.Equal(buf, data[90_000:]) {
		t.Fatalf("received %d bytes, not the file's last 10000", len(buf))
	}
}

// TestSendFileRangeRefused: a source the kernel cannot sendfile from (a
// pipe) is not handled, and nothing of it is written: the caller copies.
// The header went out already, and reports so.
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
	a, b := tcpPair(t)
	hn, n, handled, err := sendFileRange(a, []byte("head"), pr, 0, 3)
	if hn != 4 || handled || err != nil || n != 0 {
		t.Fatalf("sendFileRange from a pipe = %d, %d, %v, %v; want 4, 0, false, nil", hn, n, handled, err)
	}
	_ = a.Close() // sends what MSG_MORE held back
	if buf, _ := io.ReadAll(b); string(buf) != "head" {
		t.Fatalf("received %q, want the header alone", buf)
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
	hn, n, handled, err := sendFileRange(a, []byte("head"), f, 0, 1<<20)
	if hn != 0 || !handled || !errors.Is(err, os.ErrDeadlineExceeded) || !isConnErr(err) {
		t.Fatalf("sendFileRange after the deadline = %d, %v, %v; want a deadline error", n, handled, err)
	}
}

// TestSendFileRangeNotTCP: a connection that is not TCP is not handled.
func TestSendFileRangeNotTCP(t *testing.T) {
	f, _ := patternFile(t, 10)
	a, _ := pipePair(t)
	if hn, n, handled, err := sendFileRange(a, []byte("head"), f, 0, 10); hn != 0 || handled || err != nil || n != 0 {
		t.Fatalf("sendFileRange over a pipe conn = %d, %d, %v, %v; want 0, 0, false, nil", hn, n, handled, err)
	}
}

// segsOut is the number of TCP segments c has sent.
func segsOut(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
	return info.Segs_out
}

// TestSendFileRangeOneSegment: a header and a small range leave in one TCP
// segment (the header is sent with MSG_MORE), not a segment for the header
// and one for the data; a header with no range behind it leaves at once.
// The receiver only reads, so the sender's segments are data, never ACKs
// of its own.
func TestSendFileRangeOneSegment(t *testing.T) {
	f, data := patternFile(t, 4096)
	a, b := tcpPair(t)
	head := FrameHeader{Length: 1000, Version: ProtocolVersion, Type: 9}.Append(nil)
	before := segsOut(t, a)
	if hn, n, handled, err := sendFileRange(a, head, f, 100, 1000); hn != len(head) || !handled || err != nil || n != 1000 {
		t.Fatalf("sendFileRange = %d, %d, %v, %v", hn, n, handled, err)
	}
	buf := make([]byte, len(head)+1000)
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, append(bytes.Clone(head), data[100:1100]...)) {
		t.Fatal("received bytes differ from the header and range sent")
	}
	if d := segsOut(t, a) - before; d != 1 {
		t.Errorf("header and range left in %d segments, want 1", d)
	}
	// An empty range: the header alone, not held back.
	before = segsOut(t, a)
	if hn, n, handled, err := sendFileRange(a, head, f, 0, 0); hn != len(head) || !handled || err != nil || n != 0 {
		t.Fatalf("sendFileRange of nothing = %d, %d, %v, %v", hn, n, handled, err)
	}
	if d := segsOut(t, a) - before; d != 1 {
		t.Fatalf("a header with no range left in %d segments, want 1", d)
	}
	if _, err := io.ReadFull(b, buf[:len(head)]); err != nil || !bytes.Equal(buf[:len(head)], head) {
		t.Fatalf("header alone: %q, %v", buf[:len(head)], err)
	}
}
