// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
)

// faultStore opens a store over a FaultFS in a fresh directory.
func faultStore(t *testing.T, cfg piece.Config) (*piece.Store, *piecetest.FaultFS, string) {
	t.Helper()
	ffs := piecetest.NewFaultFS(piece.OS)
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.FS = ffs
	return openStore(t, cfg), ffs, cfg.Dir
}

// reopened closes st and returns the bitmap of task id as a fresh store
// over the real file system sees it.
func reopened(t *testing.T, st *piece.Store, dir string, id core.TaskID) []bool {
	t.Helper()
	_ = st.Close()
	st2 := openStore(t, piece.Config{Dir: dir})
	task, err := st2.Acquire(id)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	return task.Bitmap()
}

func TestDiskFullOnPieceWrite(t *testing.T) {
	st, ffs, dir := faultStore(t, piece.Config{})
	data := payload(12_000, 1)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	defer task.Release()
	ffs.Add(piecetest.Rule{Op: piecetest.OpWrite, Path: "data", Err: syscall.ENOSPC, Short: true, Times: 1})
	err := task.WritePieceBytes(1, pieceBytes(data, m.Layout, 1), core.Digest{})
	if !errors.Is(err, piece.ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WritePiece on a full disk = %v, want ErrDiskFull and ENOSPC", err)
	}
	if task.Has(1) {
		t.Fatal("piece present after a failed write")
	}
	writeAll(t, task, data, []int{0, 1}) // the disk has room again
	if got := reopened(t, st, dir, m.ID); !equalBools(got, []bool{true, true, false}) {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestDiskFullOnJournal fails the journal append with a short write: the
// piece stays absent, the torn bytes are cut away, later appends land
// where replay finds them.
func TestDiskFullOnJournal(t *testing.T) {
	st, ffs, dir := faultStore(t, piece.Config{})
	data := payload(12_000, 2)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	defer task.Release()
	ffs.Add(piecetest.Rule{Op: piecetest.OpWrite, Path: "journal", Err: syscall.ENOSPC, Short: true, Times: 1})
	if err := task.WritePieceBytes(2, pieceBytes(data, m.Layout, 2), core.Digest{}); !errors.Is(err, piece.ErrDiskFull) {
		t.Fatalf("WritePiece = %v, want ErrDiskFull", err)
	}
	if task.Has(2) {
		t.Fatal("piece present after its record failed")
	}
	writeAll(t, task, data, []int{1})
	if got := reopened(t, st, dir, m.ID); !equalBools(got, []bool{false, true, false}) {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestJournalSyncFailure: after a failed fsync the task refuses further
// records; a reopen replays what reached the file and the task completes.
func TestJournalSyncFailure(t *testing.T) {
	st, ffs, dir := faultStore(t, piece.Config{})
	data := payload(12_000, 3)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	writeAll(t, task, data, []int{0})
	ffs.Add(piecetest.Rule{Op: piecetest.OpSync, Path: "journal", Err: syscall.EIO, Times: 1})
	if err := task.WritePieceBytes(1, pieceBytes(data, m.Layout, 1), core.Digest{}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("WritePiece with failing fsync = %v", err)
	}
	if err := task.WritePieceBytes(2, pieceBytes(data, m.Layout, 2), core.Digest{}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("WritePiece after a failed fsync = %v, want the sticky error", err)
	}
	task.Release()
	_ = st.Close()
	st2 := openStore(t, piece.Config{Dir: dir})
	task, err := st2.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	writeAll(t, task, data, seq(3))
	if sum, ok := task.Sum(); !ok || sum != m.Digest {
		t.Fatalf("Sum after recovery = %v, %v", sum, ok)
	}
}

// TestCreateFaults fails each step of creating a task: Create returns the
// error, leaves no task directory, and the store stays usable.
func TestCreateFaults(t *testing.T) {
	for _, r := range []piecetest.Rule{
		{Op: piecetest.OpMkdir, Err: syscall.ENOSPC},
		{Op: piecetest.OpCreate, Path: "data", Err: syscall.ENOSPC},
		{Op: piecetest.OpTruncate, Path: "data", Err: syscall.EFBIG},
		{Op: piecetest.OpCreate, Path: "journal.tmp", Err: syscall.ENOSPC},
		{Op: piecetest.OpWrite, Path: "journal.tmp", Err: syscall.ENOSPC, Short: true},
		{Op: piecetest.OpSync, Path: "journal.tmp", Err: syscall.EIO},
		{Op: piecetest.OpRename, Path: "journal", Err: syscall.EIO},
		{Op: piecetest.OpSyncDir, Err: syscall.EIO},
	} {
		t.Run(string(r.Op)+"-"+r.Path, func(t *testing.T) {
			st, ffs, dir := faultStore(t, piece.Config{})
			data := payload(5000, 4)
			m := metaFor(data, 4096, false)
			r.Times = 1
			ffs.Add(r)
			if _, err := st.Create(m); !errors.Is(err, r.Err) {
				t.Fatalf("Create = %v, want %v", err, r.Err)
			} else if errors.Is(r.Err, syscall.ENOSPC) && !errors.Is(err, piece.ErrDiskFull) {
				t.Fatalf("Create = %v, want ErrDiskFull", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "tasks", string(m.ID))); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("task directory left behind: %v", err)
			}
			if st.Usage() != 0 || len(st.Tasks()) != 0 {
				t.Fatalf("store holds %+v", st.Tasks())
			}
			task, err := st.Create(m)
			if err != nil {
				t.Fatalf("Create after the fault: %v", err)
			}
			writeAll(t, task, data, seq(2))
			task.Release()
		})
	}
}

// TestCompletionDiskFull: the disk fills exactly when completion is
// recorded. The task is not complete and cannot be exported; once there is
// room, Export records completion and succeeds.
func TestCompletionDiskFull(t *testing.T) {
	st, ffs, _ := faultStore(t, piece.Config{})
	data := payload(8192, 5)
	m := metaFor(data, 4096, false)
	task := createTask(t, st, m)
	defer task.Release()
	// Piece 0's record and its checkpoint pass; piece 1's record passes;
	// the completion record fails.
	ffs.Add(piecetest.Rule{Op: piecetest.OpWrite, Path: "journal", After: 3, Times: 1, Err: syscall.ENOSPC})
	writeAll(t, task, data, []int{0})
	if err := task.WritePieceBytes(1, pieceBytes(data, m.Layout, 1), core.Digest{}); !errors.Is(err, piece.ErrDiskFull) {
		t.Fatalf("last piece = %v, want ErrDiskFull from recording completion", err)
	}
	if task.Complete() || task.Present() != 2 {
		t.Fatalf("Complete = %v with %d pieces", task.Complete(), task.Present())
	}
	dst := filepath.Join(t.TempDir(), "out")
	ffs.Add(piecetest.Rule{Op: piecetest.OpWrite, Path: "journal", Times: 1, Err: syscall.ENOSPC})
	if err := task.Export(dst); !errors.Is(err, piece.ErrIncomplete) {
		t.Fatalf("Export while completion cannot be recorded = %v", err)
	}
	if err := task.Export(dst); err != nil {
		t.Fatalf("Export with room again: %v", err)
	}
	if !task.Complete() {
		t.Fatal("not complete after Export")
	}
}

// TestExportFaults: a failure at any step of Export leaves neither the
// output nor a temporary file.
func TestExportFaults(t *testing.T) {
	for _, tc := range []struct {
		link bool
		rule piecetest.Rule
	}{
		{false, piecetest.Rule{Op: piecetest.OpCreate, Path: "out", Err: syscall.ENOSPC}},
		{false, piecetest.Rule{Op: piecetest.OpWrite, Path: "out", Err: syscall.ENOSPC, Short: true}},
		{false, piecetest.Rule{Op: piecetest.OpSync, Path: "out", Err: syscall.EIO}},
		{false, piecetest.Rule{Op: piecetest.OpRename, Path: "out", Err: syscall.EIO}},
		{true, piecetest.Rule{Op: piecetest.OpLink, Path: "out", Err: syscall.EXDEV}},
		{true, piecetest.Rule{Op: piecetest.OpSync, Path: "out", Err: syscall.EIO}},
	} {
		t.Run(string(tc.rule.Op), func(t *testing.T) {
			st, ffs, _ := faultStore(t, piece.Config{ExportByLink: tc.link})
			data := payload(100_000, 6)
			m := metaFor(data, 4096, false)
			task := createTask(t, st, m)
			defer task.Release()
			writeAll(t, task, data, seq(m.Layout.Pieces()))
			outDir := t.TempDir()
			dst := filepath.Join(outDir, "out")
			ffs.Add(tc.rule)
			err := task.Export(dst)
			if !errors.Is(err, tc.rule.Err) {
				t.Fatalf("Export = %v, want %v", err, tc.rule.Err)
			}
			if errors.Is(tc.rule.Err, syscall.ENOSPC) && !errors.Is(err, piece.ErrDiskFull) {
				t.Fatalf("Export = %v, want ErrDiskFull", err)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Fatalf("%s holds %v after a failed export", outDir, ents[0].Name())
			}
		})
	}
}
