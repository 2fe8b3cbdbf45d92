// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Layout: core.Layout{Size: 10, PieceSize: 4}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for _, bad := range []Config{
		{},
		{Layout: core.Layout{Size: 10, PieceSize: 0}},
		{Layout: good.Layout, Window: -1},
		{Layout: good.Layout, Window: MaxWindow + 1},
	} {
		if _, err := New(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", bad, err)
		}
	}
	c, err := New(Config{Layout: core.Layout{Size: 100 << 20, PieceSize: 1 << 20}})
	if err != nil || c.Window() != DefaultWindow {
		t.Fatalf("default window = %d, %v", c.Window(), err)
	}
	c, _ = New(Config{Layout: good.Layout, Window: 100})
	if c.Window() != 3 {
		t.Errorf("window of a 3-piece task = %d, want 3", c.Window())
	}
}

// D1: only pieces in the window [read, read+wnd) may be added, and Wanted
// lists exactly the missing ones there.
func TestWindowFilter(t *testing.T) {
	l := core.Layout{Size: 10 * 4, PieceSize: 4}
	data := payload(l.Size, 1)
	c, _ := newCache(t, Config{Layout: l, Window: 3})
	if got := c.Wanted(nil); !slices.Equal(got, idx(0, 1, 2)) {
		t.Fatalf("Wanted = %v, want [0 1 2]", got)
	}
	for _, i := range []int{3, 9, 10, 1 << 30} {
		err := c.Put(core.PieceIndex(i), make([]byte, 4))
		if !errors.Is(err, ErrOutsideWindow) {
			t.Errorf("Put(%d) = %v, want ErrOutsideWindow", i, err)
		}
		if c.Accepts(core.PieceIndex(i)) {
			t.Errorf("Accepts(%d) = true", i)
		}
	}
	if err := c.Put(2, pieceOf(l, data, 2)); err != nil {
		t.Fatal(err)
	}
	if got := c.Wanted(nil); !slices.Equal(got, idx(0, 1)) || c.Free() != 2 {
		t.Fatalf("Wanted = %v Free = %d, want [0 1] and 2", got, c.Free())
	}
	// The window moves when the consumer finishes piece 0, not before.
	if err := c.Put(0, pieceOf(l, data, 0)); err != nil {
		t.Fatal(err)
	}
	if c.Limit() != 3 {
		t.Fatalf("Limit before reading = %d", c.Limit())
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if c.Limit() != 3 {
		t.Fatalf("Limit after a partial piece = %d, want 3", c.Limit())
	}
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		t.Fatal(err)
	}
	if c.Limit() != 4 || !c.Accepts(3) {
		t.Fatalf("Limit after piece 0 = %d, want 4", c.Limit())
	}
	if got := c.Wanted(nil); !slices.Equal(got, idx(1, 3)) {
		t.Fatalf("Wanted = %v, want [1 3]", got)
	}
	if err := c.Put(0, pieceOf(l, data, 0)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Put(delivered 0) = %v, want ErrDuplicate", err)
	}
	if err := c.Put(2, pieceOf(l, data, 2)); !errors.Is(err, ErrDuplicate) {
		t.Errorf("Put(held 2) = %v, want ErrDuplicate", err)
	}
	if err := c.Put(1, []byte{1}); !errors.Is(err, ErrSize) {
		t.Errorf("Put(short) = %v, want ErrSize", err)
	}
}

// D2: una runs over the received prefix from the consumer's position and
// stops at the first gap.
func TestUna(t *testing.T) {
	l := core.Layout{Size: 10, PieceSize: 1}
	c, _ := newCache(t, Config{Layout: l, Window: 5})
	for _, step := range []struct {
		put  int
		una  core.PieceIndex
		read int
	}{
		{put: 1, una: 0},
		{put: 2, una: 0},
		{put: 0, una: 3},
		{put: 4, una: 3},
		{put: 3, una: 5},
		{read: 3, una: 5},          // reading moves the window, not una
		{put: 6, una: 5},           // gap at 5
		{put: 5, una: 7},           // filled
		{read: 4, una: 7},          // read up to 7
		{put: 7, una: 8},           //
		{put: 9, una: 8},           // gap at 8
		{put: 8, read: 3, una: 10}, // the end
	} {
		if step.read == 0 {
			if err := c.Put(core.PieceIndex(step.put), []byte{byte(step.put)}); err != nil {
				t.Fatalf("Put(%d): %v", step.put, err)
			}
		} else {
			if step.put != 0 {
				if err := c.Put(core.PieceIndex(step.put), []byte{byte(step.put)}); err != nil {
					t.Fatalf("Put(%d): %v", step.put, err)
				}
			}
			if _, err := io.ReadFull(c, make([]byte, step.read)); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.Una(); got != step.una {
			t.Fatalf("after %+v: Una = %d, want %d", step, got, step.una)
		}
	}
}

// D3: FIFO eviction in index order, only after delivery, each piece
// reported exactly once (Close reports what is left).
func TestEvictionOrderOnce(t *testing.T) {
	l := core.Layout{Size: 8 * 2, PieceSize: 2}
	data := payload(l.Size, 3)
	c, ev := newCache(t, Config{Layout: l, Window: 3})
	// Fill the window out of order; nothing is evicted before delivery.
	for _, i := range idx(2, 0, 1) {
		if err := c.Put(i, pieceOf(l, data, i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := ev.list(); len(got) != 0 {
		t.Fatalf("evicted %v before delivery", got)
	}
	if err := c.Put(3, pieceOf(l, data, 3)); !errors.Is(err, ErrOutsideWindow) {
		t.Fatalf("Put(3) into a full window = %v", err)
	}
	out := make([]byte, 4) // pieces 0 and 1
	if _, err := io.ReadFull(c, out); err != nil {
		t.Fatal(err)
	}
	// Delivered pieces stay (served to peers) until their slot is needed.
	if got := ev.list(); len(got) != 0 {
		t.Fatalf("evicted %v before the slots were needed", got)
	}
	for _, i := range idx(4, 3) {
		if err := c.Put(i, pieceOf(l, data, i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := ev.list(); !slices.Equal(got, idx(1, 0)) {
		t.Fatalf("evicted %v, want [1 0] (the slots of 4 and 3)", got)
	}
	if st := c.Stats(); st.Held != 3 || st.Evicted != 2 || st.PeakBuffers > 3 {
		t.Fatalf("stats %+v", st)
	}
	mustOK(t, c.Close())
	mustOK(t, c.Close())
	got := ev.list()
	slices.Sort(got)
	if !slices.Equal(got, idx(0, 1, 2, 3, 4)) {
		t.Fatalf("evicted %v, want each of 0..4 once", got)
	}
	if st := c.Stats(); st.Buffers != 0 {
		t.Fatalf("%d buffers alive after Close", st.Buffers)
	}
}

// D4: pieces delivered concurrently in random order are filed and served
// under their own index.
func TestConcurrentOutOfOrder(t *testing.T) {
	checkLeaks(t)
	l := core.Layout{Size: 64*1024 + 17, PieceSize: 1024}
	n := l.Pieces()
	data := payload(l.Size, 4)
	c, _ := newCache(t, Config{Layout: l, Window: n})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for k := range n {
				i := core.PieceIndex((k*7 + w*13) % n)
				err := c.Put(i, pieceOf(l, data, i))
				if err != nil && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrReserved) {
					t.Errorf("Put(%d): %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range core.PieceIndex(n) {
		r, err := c.Get(i)
		if err != nil {
			t.Fatalf("Get(%d): %v", i, err)
		}
		if !bytes.Equal(r.Bytes(), pieceOf(l, data, i)) {
			t.Fatalf("piece %d has the wrong bytes", i)
		}
		r.Release()
	}
	var out bytes.Buffer
	if _, err := c.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo: %v, equal %v", err, bytes.Equal(out.Bytes(), data))
	}
}

// D6: a peer asking for an evicted piece gets a miss at once; a piece not
// received yet is "not held"; a Ref pins bytes across eviction.
func TestGetMiss(t *testing.T) {
	l := core.Layout{Size: 6, PieceSize: 1}
	c, _ := newCache(t, Config{Layout: l, Window: 2})
	if _, err := c.Get(0); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Get(0) before arrival = %v, want ErrNotHeld", err)
	}
	if _, err := c.Get(6); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Get(past end) = %v, want ErrNotHeld", err)
	}
	mustOK(t, c.Put(0, []byte{10}))
	mustOK(t, c.Put(1, []byte{11}))
	ref, err := c.Get(0)
	if err != nil || !bytes.Equal(ref.Bytes(), []byte{10}) {
		t.Fatalf("Get(0) = %v, %v", ref, err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(2, []byte{12}); err != nil { // evicts 0 while ref pins it
		t.Fatal(err)
	}
	if _, err := c.Get(0); !errors.Is(err, ErrEvicted) {
		t.Fatalf("Get(evicted 0) = %v, want ErrEvicted", err)
	}
	if c.Holds(0) || !c.Holds(1) || !c.Holds(2) || c.Holds(3) || c.Holds(6) {
		t.Fatalf("Holds(0..3, 6) = %v %v %v %v %v, want false true true false false",
			c.Holds(0), c.Holds(1), c.Holds(2), c.Holds(3), c.Holds(6))
	}
	if st := c.Stats(); st.Buffers != 3 {
		t.Fatalf("buffers = %d, want 3 (2 slots + 1 pinned)", st.Buffers)
	}
	if err := c.Put(3, nil); err == nil {
		t.Fatal("Put(3) accepted outside the window")
	}
	if !bytes.Equal(ref.Bytes(), []byte{10}) {
		t.Fatal("pinned bytes changed after eviction")
	}
	ref.Release()
	ref.Release()
	if st := c.Stats(); st.Buffers != 2 || st.Served != 1 || st.Misses != 3 {
		t.Fatalf("stats after release %+v", st)
	}
}

func TestReserveCommitRelease(t *testing.T) {
	l := core.Layout{Size: 10, PieceSize: 4}
	c, _ := newCache(t, Config{Layout: l, Window: 2})
	buf, err := c.Reserve(1)
	if err != nil || len(buf) != 4 {
		t.Fatalf("Reserve(1) = %d bytes, %v", len(buf), err)
	}
	if _, err := c.Reserve(1); !errors.Is(err, ErrReserved) {
		t.Fatalf("second Reserve(1) = %v", err)
	}
	if err := c.Put(1, make([]byte, 4)); !errors.Is(err, ErrReserved) {
		t.Fatalf("Put(reserved) = %v", err)
	}
	if c.Free() != 1 || c.Accepts(1) {
		t.Fatalf("Free = %d, Accepts(1) = %v", c.Free(), c.Accepts(1))
	}
	if _, err := c.Get(1); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Get(reserved) = %v", err)
	}
	if err := c.Release(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(1); !errors.Is(err, ErrNotReserved) {
		t.Fatalf("second Release = %v", err)
	}
	if err := c.Commit(1); !errors.Is(err, ErrNotReserved) {
		t.Fatalf("Commit(unreserved) = %v", err)
	}
	buf, _ = c.Reserve(1)
	copy(buf, "abcd")
	ch := c.Changed()
	if err := c.Commit(1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire on Commit")
	}
	ref, err := c.Get(1)
	if err != nil || string(ref.Bytes()) != "abcd" {
		t.Fatalf("Get(1) = %v", err)
	}
	ref.Release()
	// The last piece is short.
	if err := c.Put(0, []byte("0123")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if buf, err := c.Reserve(2); err != nil || len(buf) != 2 {
		t.Fatalf("Reserve(last) = %d bytes, %v", len(buf), err)
	}
	// Close while reserved: Commit fails and frees the buffer.
	mustOK(t, c.Close())
	if err := c.Commit(2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	for _, err := range []error{c.Put(2, make([]byte, 2)), func() error { _, err := c.Get(1); return err }(), func() error { _, err := c.Reserve(2); return err }()} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
	if st := c.Stats(); st.Buffers != 0 || st.Held != 0 || st.Reserved != 0 {
		t.Fatalf("stats after Close %+v", st)
	}
}

// The eviction callback runs without the lock: it may call back into the
// cache (the Dragonfly deadlock was a lock held across the report).
func TestOnEvictMayReenter(t *testing.T) {
	l := core.Layout{Size: 4, PieceSize: 1}
	var c *Cache
	var seen []core.PieceIndex
	c, err := New(Config{Layout: l, Window: 1, OnEvict: func(ev []core.PieceIndex) {
		seen = append(seen, ev...)
		_ = c.Stats()
		_, _ = c.Get(ev[0])
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range core.PieceIndex(4) {
		if err := c.Put(i, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	mustOK(t, c.Close())
	if !slices.Equal(seen, idx(0, 1, 2, 3)) {
		t.Fatalf("evicted %v", seen)
	}
}

// The default window holds 16 pieces and at least 4 MiB.
func TestWindowFor(t *testing.T) {
	for _, c := range []struct {
		pieceSize int64
		want      int
	}{
		{4 << 20, DefaultWindow},
		{256 << 10, DefaultWindow},
		{256<<10 - 1, DefaultWindow + 1},
		{128 << 10, 32},
		{64 << 10, 64},
		{1, MaxWindow},
		{0, DefaultWindow},
	} {
		if got := WindowFor(c.pieceSize); got != c.want {
			t.Errorf("WindowFor(%d) = %d, want %d", c.pieceSize, got, c.want)
		}
	}
}
