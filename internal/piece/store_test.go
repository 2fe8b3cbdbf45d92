// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
)

// payload returns size deterministic pseudo-random bytes.
func payload(size int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// createTask creates m's task in st, failing the test if it cannot.
func createTask(t *testing.T, st *piece.Store, m piece.Meta) *piece.Task {
	t.Helper()
	task, err := st.Create(m)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// metaFor describes data cut into pieceSize pieces, with the whole-file
// digest and, if withPieces, the per-piece digests.
func metaFor(data []byte, pieceSize int64, withPieces bool) piece.Meta {
	l := core.Layout{Size: int64(len(data)), PieceSize: pieceSize}
	m := piece.Meta{
		ID: core.TaskIDForDigest(core.DigestOf(data), pieceSize), URL: "http://origin.test/blob",
		Layout: l, Digest: core.DigestOf(data),
	}
	if withPieces {
		for i := range l.Pieces() {
			m.PieceDigests = append(m.PieceDigests, core.DigestOf(pieceBytes(data, l, core.PieceIndex(i))))
		}
	}
	return m
}

func pieceBytes(data []byte, l core.Layout, i core.PieceIndex) []byte {
	r := l.Piece(i)
	return data[r.Off:r.End()]
}

func openStore(t *testing.T, cfg piece.Config) *piece.Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	st, err := piece.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func writeAll(t *testing.T, task *piece.Task, data []byte, order []int) {
	t.Helper()
	l := task.Layout()
	for _, i := range order {
		if err := task.WritePieceBytes(core.PieceIndex(i), pieceBytes(data, l, core.PieceIndex(i)), core.Digest{}); err != nil {
			t.Fatalf("write piece %d: %v", i, err)
		}
	}
}

func TestStoreCompleteAndExport(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		pieceSize  int64
		withPieces bool
		order      func(n int) []int
	}{
		{"in order", 10_000, 1024, false, func(n int) []int { return seq(n) }},
		{"reverse", 10_000, 1024, true, func(n int) []int { return reverse(seq(n)) }},
		{"shuffled", 100_003, 4096, true, func(n int) []int { s := seq(n); rand.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] }); return s }},
		{"one piece", 100, 4096, false, func(n int) []int { return seq(n) }},
		{"empty", 0, 4096, false, func(n int) []int { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, link := range []bool{false, true} {
				st := openStore(t, piece.Config{ExportByLink: link})
				data := payload(tc.size, 1)
				m := metaFor(data, tc.pieceSize, tc.withPieces)
				task := createTask(t, st, m)
				defer task.Release()
				dst := filepath.Join(t.TempDir(), "out")
				if tc.size > 0 {
					if err := task.Export(dst); !errors.Is(err, piece.ErrIncomplete) {
						t.Fatalf("Export before complete = %v, want ErrIncomplete", err)
					}
				}
				writeAll(t, task, data, tc.order(m.Layout.Pieces()))
				select {
				case <-task.Done():
				default:
					t.Fatal("Done not closed after the last piece")
				}
				sum, ok := task.Sum()
				if !ok || sum != m.Digest {
					t.Fatalf("Sum = %v, %v; want %v", sum, ok, m.Digest)
				}
				if err := task.Export(dst); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(dst)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("exported file differs (err %v)", err)
				}
				assertNoTemp(t, filepath.Dir(dst))
			}
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func reverse(s []int) []int {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

// assertNoTemp checks that dir holds no leftover temporary files.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".tmp" {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestPieceDigestMismatch(t *testing.T) {
	st := openStore(t, piece.Config{})
	data := payload(8192, 2)
	m := metaFor(data, 4096, true)
	task := createTask(t, st, m)
	defer task.Release()
	bad := bytes.Clone(pieceBytes(data, m.Layout, 0))
	bad[17] ^= 1
	// Against the metadata's digest.
	err := task.WritePieceBytes(0, bad, core.Digest{})
	var dm *piece.DigestMismatchError
	if !errors.As(err, &dm) || dm.Piece != 0 || dm.Want != m.PieceDigests[0] || dm.Got != core.DigestOf(bad) {
		t.Fatalf("WritePiece(bad) = %v, want *DigestMismatchError for piece 0", err)
	}
	if task.Has(0) {
		t.Fatal("piece present after a mismatch")
	}
	if _, err := task.OpenPiece(0); !errors.Is(err, piece.ErrPieceMissing) {
		t.Fatalf("OpenPiece of a rejected piece = %v", err)
	}
	// Against a digest given by the caller.
	err = task.WritePieceBytes(1, pieceBytes(data, m.Layout, 1), core.DigestOf([]byte("other")))
	if !errors.As(err, &dm) || dm.Piece != 1 {
		t.Fatalf("WritePiece(wrong want) = %v", err)
	}
	// The good bytes still go in afterwards.
	writeAll(t, task, data, []int{0, 1})
	if !task.Complete() {
		t.Fatal("not complete")
	}
}

func TestWholeFileMismatch(t *testing.T) {
	st := openStore(t, piece.Config{})
	data := payload(8192, 3)
	m := metaFor(data, 4096, false)
	m.Digest = core.DigestOf([]byte("something else"))
	task := createTask(t, st, m)
	defer task.Release()
	writeAll(t, task, data, []int{1})
	err := task.WritePieceBytes(0, pieceBytes(data, m.Layout, 0), core.Digest{})
	var dm *piece.DigestMismatchError
	if !errors.As(err, &dm) || dm.Piece != piece.WholeFile || dm.Got != core.DigestOf(data) {
		t.Fatalf("last piece = %v, want whole-file *DigestMismatchError", err)
	}
	if task.Complete() || !errors.As(task.Err(), &dm) {
		t.Fatalf("Complete = %v, Err = %v", task.Complete(), task.Err())
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := task.Export(dst); !errors.Is(err, piece.ErrIncomplete) {
		t.Fatalf("Export = %v, want ErrIncomplete", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("output exists after failed export: %v", err)
	}
}

func TestPieceWriterRules(t *testing.T) {
	st := openStore(t, piece.Config{})
	data := payload(10, 4)
	m := metaFor(data, 4, false)
	task := createTask(t, st, m)
	defer task.Release()
	if _, err := task.NewPieceWriter(3); !errors.Is(err, piece.ErrRange) {
		t.Fatalf("piece 3 of 3: %v", err)
	}
	w, err := task.NewPieceWriter(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.NewPieceWriter(0); !errors.Is(err, piece.ErrPieceBusy) {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := w.Write(data[:3]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(core.Digest{}); !errors.Is(err, piece.ErrPieceSize) {
		t.Fatalf("short commit: %v", err)
	}
	w, err = task.NewPieceWriter(0)
	if err != nil {
		t.Fatalf("writer after a failed commit: %v", err)
	}
	if _, err := w.Write(data[:5]); !errors.Is(err, piece.ErrPieceSize) {
		t.Fatalf("overlong write: %v", err)
	}
	w.Abort()
	w.Abort()
	if err := task.WritePiece(2, bytes.NewReader(data[8:9]), core.Digest{}); !errors.Is(err, piece.ErrPieceSize) {
		t.Fatalf("short reader: %v", err)
	}
	writeAll(t, task, data, []int{2})
	if _, err := task.NewPieceWriter(2); !errors.Is(err, piece.ErrPiecePresent) {
		t.Fatalf("writer for present piece: %v", err)
	}
	if err := task.WritePieceBytes(2, []byte("xx"), core.Digest{}); err != nil {
		t.Fatalf("WritePiece of a present piece = %v, want nil", err)
	}
	if got := task.Bitmap(); !equalBools(got, []bool{false, false, true}) {
		t.Fatalf("Bitmap = %v", got)
	}
	if d, ok := task.PieceDigest(2); !ok || d != core.DigestOf(data[8:]) {
		t.Fatalf("PieceDigest = %v, %v", d, ok)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConcurrentWriters writes pieces from several goroutines while others
// serve the present ones; run with -race.
func TestConcurrentWriters(t *testing.T) {
	st := openStore(t, piece.Config{})
	data := payload(300_000, 5)
	m := metaFor(data, 4096, true)
	task := createTask(t, st, m)
	defer task.Release()
	n := m.Layout.Pieces()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for _, i := range rand.Perm(n) {
				err := task.WritePieceBytes(core.PieceIndex(i), pieceBytes(data, m.Layout, core.PieceIndex(i)), core.Digest{})
				if err != nil && !errors.Is(err, piece.ErrPieceBusy) {
					t.Errorf("writer %d piece %d: %v", g, i, err)
					return
				}
				if sec, err := task.OpenPiece(core.PieceIndex(i)); err == nil {
					got, err := io.ReadAll(sec)
					_ = sec.Close()
					if err != nil || !bytes.Equal(got, pieceBytes(data, m.Layout, core.PieceIndex(i))) {
						t.Errorf("served piece %d differs (%v)", i, err)
					}
				}
			}
		})
	}
	wg.Wait()
	// Busy pieces were skipped by some writers, not all.
	writeAll(t, task, data, seq(n))
	if sum, ok := task.Sum(); !ok || sum != m.Digest {
		t.Fatalf("Sum = %v, %v", sum, ok)
	}
}

// TestSectionSendfile serves a piece over loopback TCP through WriteTo,
// the path that lets the kernel use sendfile, and through Read.
func TestSectionSendfile(t *testing.T) {
	st := openStore(t, piece.Config{})
	data := payload(3<<20+5, 6)
	m := metaFor(data, 1<<20, false)
	task := createTask(t, st, m)
	defer task.Release()
	writeAll(t, task, data, seq(m.Layout.Pieces()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		_ = c.Close()
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []core.PieceIndex{3, 1} {
		sec, err := task.OpenPiece(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sec.File().(*os.File); !ok {
			t.Fatalf("File() is %T, want *os.File", sec.File())
		}
		if r := m.Layout.Piece(i); sec.Offset() != r.Off || sec.Len() != r.Len {
			t.Fatalf("section %d at %d+%d, want %v", i, sec.Offset(), sec.Len(), r)
		}
		if n, err := io.Copy(c, sec); err != nil || n != sec.Len() {
			t.Fatalf("io.Copy = %d, %v", n, err)
		}
		if err := sec.Close(); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close()
	want := append(bytes.Clone(pieceBytes(data, m.Layout, 3)), pieceBytes(data, m.Layout, 1)...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, want %d matching", len(b), len(want))
	}
}

// TestReopenResumes closes the store mid-download and reopens it: present
// pieces, digests and the whole-file hash checkpoint carry over.
func TestReopenResumes(t *testing.T) {
	dir := t.TempDir()
	data := payload(50_000, 7)
	m := metaFor(data, 4096, false)
	st, err := piece.Open(piece.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	task := createTask(t, st, m)
	writeAll(t, task, data, []int{0, 1, 2, 7, 5})
	task.Release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := task.NewPieceWriter(3); !errors.Is(err, piece.ErrClosed) {
		t.Fatalf("writer on closed store: %v", err)
	}

	st = openStore(t, piece.Config{Dir: dir})
	task, err = st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	if got, want := task.Bitmap(), []bool{true, true, true, false, false, true, false, true, false, false, false, false, false}; !equalBools(got, want) {
		t.Fatalf("Bitmap after reopen = %v, want %v", got, want)
	}
	if again, err := st.Create(m); err != nil || again != task {
		t.Fatalf("Create of an existing task = %p, %v; want the same task", again, err)
	} else {
		again.Release()
	}
	other := m
	other.Layout.PieceSize = 2048
	if _, err := st.Create(other); !errors.Is(err, piece.ErrExists) {
		t.Fatalf("Create with another layout = %v, want ErrExists", err)
	}
	writeAll(t, task, data, []int{12, 3, 4, 6, 8, 9, 10, 11})
	if sum, ok := task.Sum(); !ok || sum != core.Digest(sha256.Sum256(data)) {
		t.Fatalf("Sum = %v, %v", sum, ok)
	}
	// A complete task reopens complete.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, piece.Config{Dir: dir})
	task, err = st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	if !task.Complete() {
		t.Fatal("complete task reopened incomplete")
	}
	if _, err := st.Acquire(core.TaskIDForURL("nope", 1)); !errors.Is(err, piece.ErrNotFound) {
		t.Fatalf("Acquire(unknown) = %v", err)
	}
}

// TestOpenRepairs damages journals the ways a crash can: a torn tail is
// cut off, a missing or unreadable journal drops the task.
func TestOpenRepairs(t *testing.T) {
	dir := t.TempDir()
	data := payload(20_000, 8)
	m := metaFor(data, 4096, false)
	st := openStore(t, piece.Config{Dir: dir})
	task := createTask(t, st, m)
	writeAll(t, task, data, []int{0, 1})
	task.Release()
	m2 := metaFor(payload(100, 9), 4096, false)
	task2, err := st.Create(m2)
	if err != nil {
		t.Fatal(err)
	}
	task2.Release()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	jpath := filepath.Join(dir, "tasks", string(m.ID), "journal")
	j, _ := os.ReadFile(jpath)
	// A torn third piece record.
	if err := os.WriteFile(jpath, append(j, 0, 0, 0, 37, 1, 2), 0o644); err != nil {
		t.Fatal(err)
	}
	// The second task loses its journal header.
	if err := os.WriteFile(filepath.Join(dir, "tasks", string(m2.ID), "journal"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A third directory never got its journal renamed into place.
	half := filepath.Join(dir, "tasks", string(core.TaskIDForURL("half", 1)))
	if err := os.MkdirAll(half, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(half, "journal.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, piece.Config{Dir: dir})
	infos := st.Tasks()
	if len(infos) != 1 || infos[0].ID != m.ID || infos[0].Present != 2 {
		t.Fatalf("Tasks after repair = %+v", infos)
	}
	if fi, _ := os.Stat(jpath); fi.Size() != int64(len(j)) {
		t.Fatalf("journal is %d bytes after repair, want %d", fi.Size(), len(j))
	}
	for _, gone := range []string{half, filepath.Join(dir, "tasks", string(m2.ID))} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed: %v", gone, err)
		}
	}
	task, err = st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	writeAll(t, task, data, seq(m.Layout.Pieces()))
	if !task.Complete() {
		t.Fatal("repaired task does not complete")
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := piece.Open(piece.Config{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if err := (piece.Config{Dir: "x", Quota: -1}).Validate(); err == nil {
		t.Error("negative quota valid")
	}
	st := openStore(t, piece.Config{})
	if _, err := st.Create(piece.Meta{ID: "bad", Layout: core.Layout{Size: 1, PieceSize: 1}}); err == nil {
		t.Error("Create with a bad id succeeded")
	}
}
