// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
)

// copyDir copies the regular files under src to dst: what a kill -9 at
// this moment leaves on disk (the page cache survives the process).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPublishBeforeSync: a published piece is present and served at once,
// while the fsync that makes it durable has not happened; the journal does
// not claim it until then, so a crash at that moment loses only the piece
// (a restart finds it absent). Once the fsync goes on, the piece is
// durable and the task completes.
func TestPublishBeforeSync(t *testing.T) {
	dir := t.TempDir()
	// Every fsync of the data file is held until the test lets it go, so
	// the task can be looked at while its pieces are verified but not yet
	// durable, without timing.
	entered := make(chan struct{}, 1) // a data fsync is waiting at the gate
	gate := make(chan struct{})       // closed: data fsyncs go on
	gfs := &syncHookFS{FS: piece.OS, onSync: func(name string) {
		if name != "data" {
			return
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
	}}
	st := openStore(t, piece.Config{Dir: dir, FS: gfs})
	data := payload(3*4096, 11)
	m := metaFor(data, 4096, true)
	task := createTask(t, st, m)
	defer task.Release()
	for i := range core.PieceIndex(3) {
		w, err := task.NewPieceWriter(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pieceBytes(data, m.Layout, i)); err != nil {
			t.Fatal(err)
		}
		// Publish returns while the flusher is held at the data fsync.
		if err := w.Publish(core.Digest{}); err != nil {
			t.Fatalf("Publish(%d) = %v", i, err)
		}
	}
	<-entered // the first batch's fsync is held: nothing is durable
	if task.Present() != 3 || !task.Has(1) {
		t.Fatalf("present %d, Has(1) %v before the fsync; want every published piece", task.Present(), task.Has(1))
	}
	if task.Complete() {
		t.Fatal("complete before any piece is durable")
	}
	if _, err := task.NewPieceWriter(1); !errors.Is(err, piece.ErrPiecePresent) {
		t.Fatalf("NewPieceWriter of a published piece = %v, want ErrPiecePresent", err)
	}
	sec, err := task.OpenPiece(1)
	if err != nil {
		t.Fatalf("OpenPiece of a published piece before its fsync: %v", err)
	}
	got, err := io.ReadAll(sec)
	_ = sec.Close()
	if err != nil || !bytes.Equal(got, pieceBytes(data, m.Layout, 1)) {
		t.Fatalf("served %d bytes (err %v), want piece 1", len(got), err)
	}

	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	st2 := openStore(t, piece.Config{Dir: crashed})
	after, err := st2.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.Present(); n != 0 {
		t.Fatalf("a crash before the fsync left %d pieces in the journal, want 0", n)
	}
	after.Release()

	close(gate)
	if err := task.Sync(); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	if !task.Complete() {
		t.Fatal("not complete once every published piece is durable")
	}
	if got := reopened(t, st, dir, m.ID); !equalBools(got, []bool{true, true, true}) {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestPublishSyncFailure: a published piece whose fsync fails is absent
// again (the page cache may no longer hold what was verified), and the
// task reports the error, since nobody waited for it.
func TestPublishSyncFailure(t *testing.T) {
	st, ffs, dir := faultStore(t, piece.Config{})
	data := payload(12_000, 12)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	defer task.Release()
	writeAll(t, task, data, []int{0})
	ffs.Add(piecetest.Rule{Op: piecetest.OpSync, Path: "data", Err: syscall.EIO, Times: 1})
	w, err := task.NewPieceWriter(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pieceBytes(data, m.Layout, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Publish(core.Digest{}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	if err := task.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after a failed fsync = %v, want EIO", err)
	}
	if err := task.Err(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Err = %v, want EIO", err)
	}
	if task.Has(1) {
		t.Fatal("piece present after its fsync failed")
	}
	if _, err := task.OpenPiece(1); !errors.Is(err, piece.ErrPieceMissing) {
		t.Fatalf("OpenPiece after a failed fsync = %v, want ErrPieceMissing", err)
	}
	if got := reopened(t, st, dir, m.ID); !equalBools(got, []bool{true, false, false}) {
		t.Fatalf("after reopen: %v", got)
	}
}
