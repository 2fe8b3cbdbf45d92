// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
)

// fakeClock is a settable clock for LRU order.
type fakeClock struct {
	mu  sync.Mutex // guards the following fields
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// finished creates and completes a task of size bytes and releases it.
func finished(t *testing.T, st *piece.Store, size int, seed uint64) piece.Meta {
	t.Helper()
	data := payload(size, seed)
	m := metaFor(data, 1024, false)
	task, err := st.Create(m)
	if err != nil {
		t.Fatalf("create %d: %v", seed, err)
	}
	writeAll(t, task, data, seq(m.Layout.Pieces()))
	task.Release()
	return m
}

func ids(st *piece.Store) map[core.TaskID]bool {
	out := map[core.TaskID]bool{}
	for _, info := range st.Tasks() {
		out[info.ID] = true
	}
	return out
}

func TestGCLeastRecentlyUsed(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	st := openStore(t, piece.Config{Quota: 10_000, Now: clock.Now})
	a := finished(t, st, 3000, 1)
	b := finished(t, st, 3000, 2)
	c := finished(t, st, 3000, 3)
	// Use a again: b is now the least recently used.
	ta, err := st.Acquire(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	ta.Release()
	if st.Usage() != 9000 {
		t.Fatalf("Usage = %d", st.Usage())
	}
	d := finished(t, st, 3000, 4) // needs 2000 more than the quota allows
	got := ids(st)
	if got[b.ID] || !got[a.ID] || !got[c.ID] || !got[d.ID] {
		t.Fatalf("after GC: %v; want b collected", got)
	}
	if st.Usage() != 9000 {
		t.Fatalf("Usage after GC = %d", st.Usage())
	}
	if freed := st.GC(); freed != 0 {
		t.Fatalf("GC within quota freed %d", freed)
	}
}

func TestGCNeverCollectsPinnedOrIncomplete(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	st := openStore(t, piece.Config{Quota: 10_000, Now: clock.Now})
	old := finished(t, st, 4000, 1) // oldest, but pinned below
	pinned, err := st.Acquire(old.ID)
	if err != nil {
		t.Fatal(err)
	}
	data := payload(4000, 2)
	partial, err := st.Create(metaFor(data, 1024, false)) // incomplete
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, partial, data, []int{0})
	partial.Release()
	// A section pins too.
	sec, err := pinned.OpenPiece(0)
	if err != nil {
		t.Fatal(err)
	}
	pinned.Release()
	_, err = st.Create(metaFor(payload(4000, 3), 1024, false))
	if !errors.Is(err, piece.ErrQuota) {
		t.Fatalf("Create over quota with nothing collectable = %v, want ErrQuota", err)
	}
	if err := st.Delete(old.ID); !errors.Is(err, piece.ErrInUse) {
		t.Fatalf("Delete of a task with an open section = %v, want ErrInUse", err)
	}
	if len(ids(st)) != 2 {
		t.Fatalf("tasks = %v", ids(st))
	}
	_ = sec.Close()
	task, err := st.Create(metaFor(payload(4000, 3), 1024, false))
	if err != nil {
		t.Fatalf("Create after the section closed: %v", err)
	}
	task.Release()
	if got := ids(st); got[old.ID] || len(got) != 2 {
		t.Fatalf("tasks = %v; want old collected, the partial one kept", got)
	}
}

// TestGCOrderSurvivesRestart: the last use is kept as the journal's
// modification time.
func TestGCOrderSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	st := openStore(t, piece.Config{Dir: dir, Now: clock.Now})
	a := finished(t, st, 1000, 1)
	b := finished(t, st, 1000, 2)
	ta, _ := st.Acquire(a.ID)
	ta.Release() // a used after b
	_ = st.Close()
	st = openStore(t, piece.Config{Dir: dir, Quota: 1500, Now: clock.Now})
	if freed := st.GC(); freed != 1000 {
		t.Fatalf("GC freed %d", freed)
	}
	if got := ids(st); !got[a.ID] || got[b.ID] {
		t.Fatalf("after GC: %v; want b collected", got)
	}
}

func TestDelete(t *testing.T) {
	st := openStore(t, piece.Config{})
	m := finished(t, st, 100, 1)
	if err := st.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(m.ID); !errors.Is(err, piece.ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
	if st.Usage() != 0 {
		t.Fatalf("Usage = %d", st.Usage())
	}
}

// stepClock is a clock that moves only when told.
type stepClock struct {
	mu  sync.Mutex // guards the following fields
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestTouchAtMostOncePerSecond: releases of a busy task (one per piece
// served) set the journal's modification time at most once a second, and
// Close writes the last use that was kept in memory only, so the LRU order
// still survives a restart.
func TestTouchAtMostOncePerSecond(t *testing.T) {
	dir := t.TempDir()
	clock := &stepClock{now: time.Unix(1e9, 0)}
	lfs := piecetest.NewLogFS(piece.OS, dir)
	st := openStore(t, piece.Config{Dir: dir, FS: lfs, Now: clock.Now})
	a := finished(t, st, 1000, 1)
	clock.add(10 * time.Second)
	b := finished(t, st, 1000, 2)
	touches := func() int {
		n := 0
		for _, op := range lfs.Ops() {
			if strings.HasPrefix(op, "chtimes ") {
				n++
			}
		}
		lfs.Reset()
		return n
	}
	touches()
	use := func(id core.TaskID) {
		task, err := st.Acquire(id)
		if err != nil {
			t.Fatal(err)
		}
		task.Release()
	}
	clock.add(10 * time.Second)
	for range 100 {
		use(a.ID)
		clock.add(time.Millisecond)
	}
	if n := touches(); n != 1 {
		t.Fatalf("100 releases within 0.1 s: %d chtimes, want 1", n)
	}
	clock.add(time.Second)
	use(a.ID)
	if n := touches(); n != 1 {
		t.Fatalf("a release a second later: %d chtimes, want 1", n)
	}
	// b is used last, but within the second after its previous touch:
	// only Close records it.
	use(b.ID)
	clock.add(time.Millisecond)
	use(b.ID)
	if n := touches(); n != 1 {
		t.Fatalf("two releases of b: %d chtimes, want 1", n)
	}
	clock.add(5 * time.Second)
	use(a.ID)
	clock.add(time.Millisecond)
	use(b.ID) // within a second of nothing: b's last touch was 5 s ago
	clock.add(time.Millisecond)
	use(a.ID) // kept in memory only: a is the most recently used
	if n := touches(); n != 2 {
		t.Fatalf("releases of a and b: %d chtimes, want 2", n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := touches(); n != 1 {
		t.Fatalf("Close: %d chtimes, want 1 (a's last use)", n)
	}
	st = openStore(t, piece.Config{Dir: dir, Quota: 1500, Now: clock.Now})
	if freed := st.GC(); freed != 1000 {
		t.Fatalf("GC freed %d", freed)
	}
	if got := ids(st); !got[a.ID] || got[b.ID] {
		t.Fatalf("after GC: %v; want b collected, a (used last) kept", got)
	}
}
