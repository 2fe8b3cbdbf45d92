// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// TestSendFileRangeSendfile: ranges of one file sent at once over loopback
// TCP by concurrent callers arrive intact, go through sendfile (no copy
// through the reopened descriptor), and leave the file's offset alone.
func TestSendFileRangeSendfile(t *testing.T) {
	f, data := patternFile(t, 4<<20)
	const pos = 777
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ranges := [][2]int64{{0, 1 << 20}, {12345, 2<<20 + 1}, {3 << 20, 1 << 20}, {4<<20 - 1, 1}}
	reads := privateReads.Load()
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
	if n := privateReads.Load() - reads; n != 0 {
		t.Errorf("%d reads copied through the reopened descriptor; want sendfile only", n)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != pos {
		t.Errorf("file offset moved to %d", off)
	}
}

// TestPrivateFileRead: the reopened descriptor also reads (the copy where
// the kernel refuses sendfile), from its own offset, to EOF.
func TestPrivateFileRead(t *testing.T) {
	f, data := patternFile(t, 100_000)
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	var oerr error
	if err := sc.Control(func(ffd uintptr) { fd, oerr = openPrivate(int(ffd)) }); err != nil || oerr != nil {
		t.Fatal(err, oerr)
	}
	g := privateFile(fd)
	defer g.close()
	got, err := io.ReadAll(g)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want the file's %d", len(got), err, len(data))
	}
}
