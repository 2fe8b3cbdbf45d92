// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// D5: the consumer gets the bytes in order with any read size, and the
// stream's SHA-256 is checked at the end.
func TestReadInOrderDigest(t *testing.T) {
	l := core.Layout{Size: 5*1000 + 3, PieceSize: 1000}
	data := payload(l.Size, 5)
	for _, size := range []int{1, 7, 999, 1000, 1001, 1 << 16} {
		c, _ := newCache(t, Config{Layout: l, Window: 6, Digest: core.DigestOf(data)})
		for _, i := range idx(5, 3, 1, 0, 4, 2) {
			if err := c.Put(i, pieceOf(l, data, i)); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		buf := make([]byte, size)
		for {
			n, err := c.Read(buf)
			out.Write(buf[:n])
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("read size %d: %v", size, err)
			}
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("read size %d: bytes differ", size)
		}
		if d, ok := c.Digest(); !ok || d != core.DigestOf(data) {
			t.Fatalf("Digest = %v, %v", d, ok)
		}
		if n, err := c.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
			t.Fatalf("Read after EOF = %d, %v", n, err)
		}
		if n, err := c.WriteTo(io.Discard); n != 0 || err != nil {
			t.Fatalf("WriteTo after EOF = %d, %v", n, err)
		}
	}
}

// A wrong stream is an error at its end, never a clean EOF.
func TestDigestMismatch(t *testing.T) {
	l := core.Layout{Size: 10, PieceSize: 4}
	data := payload(l.Size, 6)
	want := core.DigestOf([]byte("something else"))
	for _, useWriteTo := range []bool{false, true} {
		c, _ := newCache(t, Config{Layout: l, Digest: want})
		for i := range core.PieceIndex(3) {
			mustOK(t, c.Put(i, pieceOf(l, data, i)))
		}
		var err error
		if useWriteTo {
			_, err = c.WriteTo(io.Discard)
		} else {
			_, err = io.ReadAll(c)
		}
		var de *DigestError
		if !errors.As(err, &de) || !errors.Is(err, ErrDigest) || de.Want != want || de.Got != core.DigestOf(data) {
			t.Fatalf("WriteTo=%v: err = %v, want *DigestError", useWriteTo, err)
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrDigest) {
			t.Fatalf("Read after mismatch = %v, want sticky ErrDigest", err)
		}
	}
}

func TestEmptyStream(t *testing.T) {
	c, _ := newCache(t, Config{Layout: core.Layout{Size: 0, PieceSize: 4}, Digest: core.DigestOf(nil)})
	if n, err := c.WriteTo(io.Discard); n != 0 || err != nil {
		t.Fatalf("WriteTo(empty) = %d, %v", n, err)
	}
	if c.Free() != 0 || c.Accepts(0) {
		t.Fatal("empty stream wants pieces")
	}
}

// A consumer blocked on a missing piece wakes for it, and for Close.
func TestReadWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := core.Layout{Size: 4, PieceSize: 2}
		c, err := New(Config{Layout: l})
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte)
		go func() {
			b, err := io.ReadAll(c)
			if err != nil {
				t.Errorf("ReadAll: %v", err)
			}
			got <- b
		}()
		synctest.Wait() // the reader is blocked on piece 0
		mustOK(t, c.Put(1, []byte("cd")))
		synctest.Wait()
		time.Sleep(time.Second)
		mustOK(t, c.Put(0, []byte("ab")))
		if b := <-got; string(b) != "abcd" {
			t.Fatalf("read %q", b)
		}

		c2, _ := New(Config{Layout: l})
		boom := errors.New("source gone")
		done := make(chan error)
		go func() {
			_, err := c2.WriteTo(io.Discard)
			done <- err
		}()
		synctest.Wait()
		mustOK(t, c2.CloseWithError(boom))
		if err := <-done; !errors.Is(err, boom) {
			t.Fatalf("WriteTo after CloseWithError = %v", err)
		}
		c3, _ := New(Config{Layout: l})
		mustOK(t, c3.Put(0, []byte("ab")))
		go func() {
			_, err := io.ReadAll(c3)
			done <- err
		}()
		synctest.Wait()
		mustOK(t, c3.Close())
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("ReadAll after Close = %v", err)
		}
	})
}

// shortWriter accepts at most k bytes per call and fails after limit.
type shortWriter struct {
	k, limit int
	buf      bytes.Buffer
}

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.k)
	if w.buf.Len()+n > w.limit {
		return 0, errors.New("pipe closed")
	}
	w.buf.Write(p[:n])
	return n, nil
}

// A short write stops WriteTo with io.ErrShortWrite and keeps the
// position: the next call goes on from the byte after the last written.
func TestWriteToShortWrite(t *testing.T) {
	l := core.Layout{Size: 12, PieceSize: 4}
	data := payload(l.Size, 7)
	c, _ := newCache(t, Config{Layout: l, Digest: core.DigestOf(data)})
	for i := range core.PieceIndex(3) {
		mustOK(t, c.Put(i, pieceOf(l, data, i)))
	}
	w := &shortWriter{k: 3, limit: 100}
	var total int64
	for {
		n, err := c.WriteTo(w)
		total += n
		if err == nil {
			break
		}
		if !errors.Is(err, io.ErrShortWrite) {
			t.Fatal(err)
		}
	}
	if total != l.Size || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("wrote %d bytes %x, want %x", total, w.buf.Bytes(), data)
	}
	c2, _ := newCache(t, Config{Layout: l})
	for i := range core.PieceIndex(3) {
		mustOK(t, c2.Put(i, pieceOf(l, data, i)))
	}
	if _, err := c2.WriteTo(&shortWriter{k: 4, limit: 5}); err == nil || errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("WriteTo into a failing writer = %v", err)
	}
}

// gateWriter holds every Write until gate is closed, then keeps the bytes.
type gateWriter struct {
	gate chan struct{}
	buf  bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	<-w.gate
	return w.buf.Write(p)
}

// pins returns how many holders the buffer of piece i has (the slot's own
// reference included), 0 if the cache does not hold the piece. It looks
// under c.mu only.
func pins(c *Cache, i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.heldLocked(i) {
		return 0
	}
	return c.slots[i%c.wnd].buf.refs
}

// A Close while WriteTo is writing a piece out: the consumer keeps its
// pinned bytes, ends with the Close error and lets go of the buffer. The
// test sees the pin under c.mu only, so nothing orders what the consumer
// does after it let go of the lock with the Close: under the race
// detector a read of the slot outside the lock (which Close empties) is
// reported here, not only when a daemon's client leaves at that moment.
func TestCloseWhileWriting(t *testing.T) {
	checkLeaks(t)
	l := core.Layout{Size: 10, PieceSize: 4}
	data := payload(l.Size, 8)
	c, _ := newCache(t, Config{Layout: l})
	for i := range core.PieceIndex(3) {
		mustOK(t, c.Put(i, pieceOf(l, data, i)))
	}
	w := &gateWriter{gate: make(chan struct{})}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.WriteTo(w)
		done <- result{n, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for pins(c, 0) < 2 {
		if time.Now().After(deadline) {
			close(w.gate)
			t.Fatal("the consumer never pinned piece 0")
		}
		time.Sleep(time.Millisecond)
	}
	errGone := errors.New("consumer gone")
	mustOK(t, c.CloseWithError(errGone))
	close(w.gate)
	r := <-done
	if r.n != 4 || !errors.Is(r.err, errGone) || !bytes.Equal(w.buf.Bytes(), pieceOf(l, data, 0)) {
		t.Fatalf("WriteTo = %d, %v, wrote %x; want piece 0 (%x) and the Close error", r.n, r.err, w.buf.Bytes(), pieceOf(l, data, 0))
	}
	if st := c.Stats(); st.Buffers != 0 {
		t.Fatalf("%d buffers alive after the consumer let go of a closed cache", st.Buffers)
	}
}
