// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
)

// TestNoWholeFileDigest: without an expected whole-file digest the store
// keeps no running hash (no checkpoints, no reading back); pieces are
// checked against the manifest, and the task completes with a zero sum
// once every piece is present, and reopens complete.
func TestNoWholeFileDigest(t *testing.T) {
	dir := t.TempDir()
	lfs := piecetest.NewLogFS(piece.OS, dir)
	st := openStore(t, piece.Config{Dir: dir, FS: lfs})
	data := payload(10*4096+100, 7)
	m := metaFor(data, 4096, true)
	m.Digest = core.Digest{}
	task := createTask(t, st, m)
	bad := bytes.Clone(pieceBytes(data, m.Layout, 3))
	bad[0] ^= 1
	var dm *piece.DigestMismatchError
	if err := task.WritePieceBytes(3, bad, core.Digest{}); !errors.As(err, &dm) || dm.Want != m.PieceDigests[3] {
		t.Fatalf("WritePiece(bad) = %v, want a mismatch against the manifest", err)
	}
	lfs.Reset()
	writeAll(t, task, data, []int{10, 2, 0, 1, 9, 3, 4, 8, 5, 7, 6})
	if !task.Complete() {
		t.Fatal("not complete after every piece")
	}
	if sum, ok := task.Sum(); !ok || !sum.IsZero() {
		t.Fatalf("Sum = %v, %v; want zero, true", sum, ok)
	}
	// One piece record per piece and the completion record: no hash
	// checkpoint was written.
	journalWrites := 0
	for _, op := range lfs.Ops() {
		if strings.HasPrefix(op, "writeat tasks/") && strings.Contains(op, "/journal ") {
			journalWrites++
		}
	}
	if want := m.Layout.Pieces() + 1; journalWrites != want {
		t.Fatalf("%d journal writes, want %d:\n%s", journalWrites, want, strings.Join(lfs.Ops(), "\n"))
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := task.Export(out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("exported file differs (err %v)", err)
	}
	task.Release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, piece.Config{Dir: dir})
	task, err := st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	if !task.Complete() {
		t.Fatal("not complete after reopening")
	}
}

// syncHookFS calls onSync with a task file's base name ("data",
// "journal") before each of that file's fsyncs, for a test that slows,
// counts or holds them.
type syncHookFS struct {
	piece.FS
	onSync func(name string)
}

func (f *syncHookFS) OpenFile(name string, flag int, perm fs.FileMode) (piece.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &syncHookFile{File: file, onSync: f.onSync, name: filepath.Base(name)}, nil
}

type syncHookFile struct {
	piece.File
	onSync func(name string)
	name   string
}

func (f *syncHookFile) Sync() error {
	f.onSync(f.name)
	return f.File.Sync()
}

// TestGroupCommit: commits running at once share fsyncs, every commit
// returns with its piece durable (a reopened store has every piece), and the
// data file is fsynced before each journal fsync that vouches for it.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	// Every fsync of the data file takes a while, so that concurrent
	// commits pile up behind one; fsyncs are counted.
	var dataSyncs, journalSyncs atomic.Int64
	sfs := &syncHookFS{FS: piece.OS, onSync: func(name string) {
		switch name {
		case "data":
			dataSyncs.Add(1)
			time.Sleep(20 * time.Millisecond)
		case "journal":
			journalSyncs.Add(1)
		}
	}}
	st := openStore(t, piece.Config{Dir: dir, FS: sfs})
	const pieces, writers = 64, 8
	data := payload(pieces*4096, 8)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	dataSyncs.Store(0)
	journalSyncs.Store(0)
	next := make(chan int, pieces)
	for i := range pieces {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range next {
				if err := task.WritePieceBytes(core.PieceIndex(i), pieceBytes(data, m.Layout, core.PieceIndex(i)), core.Digest{}); err != nil {
					t.Error(err)
					return
				}
				if !task.Has(core.PieceIndex(i)) {
					t.Errorf("piece %d not present after its commit returned", i)
				}
			}
		})
	}
	wg.Wait()
	if !task.Complete() {
		t.Fatal("not complete")
	}
	ds, js := dataSyncs.Load(), journalSyncs.Load()
	t.Logf("%d pieces by %d writers: %d data fsyncs, %d journal fsyncs", pieces, writers, ds, js)
	if ds > pieces/2 {
		t.Errorf("%d data fsyncs for %d pieces written by %d writers at once: commits not batched", ds, pieces, writers)
	}
	task.Release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, piece.Config{Dir: dir})
	task, err := st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	if !task.Complete() || task.Present() != pieces {
		t.Fatalf("reopened with %d of %d pieces, complete %v", task.Present(), pieces, task.Complete())
	}
}
