// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// PieceWriter writes one piece at its offset in the task's data file,
// hashing the bytes as they pass. The piece becomes present only when
// [PieceWriter.Commit] or [PieceWriter.Publish] has verified it. A
// PieceWriter is used by one goroutine; it must end with Commit, Publish
// or [PieceWriter.Abort].
type PieceWriter struct {
	t     *Task
	i     core.PieceIndex
	r     core.Range
	n     int64 // bytes written so far
	h     hash.Hash
	tee   *teeHash
	err   error // first write error; sticky
	ended bool
}

// NewPieceWriter starts writing piece i. It fails with [ErrPiecePresent] if
// the task has the piece (skip it), [ErrPieceBusy] if another writer holds
// it, and [ErrRange] for an index outside the task.
func (t *Task) NewPieceWriter(i core.PieceIndex) (*PieceWriter, error) {
	if !t.hdr.layout.Contains(i) {
		return nil, fmt.Errorf("%w: %d of %d", ErrRange, i, t.hdr.layout.Pieces())
	}
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return nil, ErrClosed
	case t.present.has(int(i)):
		t.mu.Unlock()
		return nil, ErrPiecePresent
	case t.writing.has(int(i)):
		t.mu.Unlock()
		return nil, ErrPieceBusy
	}
	t.writing.set(int(i))
	t.mu.Unlock()
	return &PieceWriter{t: t, i: i, r: t.hdr.layout.Piece(i), h: sha256.New(), tee: t.startTee(i)}, nil
}

// Index returns the piece being written.
func (w *PieceWriter) Index() core.PieceIndex { return w.i }

// Range returns the piece's byte range in the task.
func (w *PieceWriter) Range() core.Range { return w.r }

// Written returns the bytes written so far.
func (w *PieceWriter) Written() int64 { return w.n }

// Write writes p at the next position of the piece. Writing past the end
// of the piece fails with [ErrPieceSize]; a full disk with an error wrapping
// [ErrDiskFull].
func (w *PieceWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.ended {
		return 0, fmt.Errorf("piece: write to ended writer for piece %d", w.i)
	}
	if int64(len(p)) > w.r.Len-w.n {
		w.err = fmt.Errorf("%w: piece %d holds %d bytes, got at least %d", ErrPieceSize, w.i, w.r.Len, w.n+int64(len(p)))
		return 0, w.err
	}
	n, err := w.t.data.WriteAt(p, w.r.Off+w.n)
	// Hash only what reached the file: a failed write ends the piece anyway.
	w.h.Write(p[:n]) // hash.Hash.Write never fails
	if w.tee != nil {
		_, _ = w.tee.h.Write(p[:n])
	}
	w.n += int64(n)
	if err != nil {
		w.err = diskErr(fmt.Sprintf("piece: write piece %d of %s", w.i, w.t.hdr.id.Short()), err)
		return n, w.err
	}
	return n, nil
}

// Commit verifies the piece and makes it present and durable: it returns
// once the piece's record is on disk (see [PieceWriter.Publish] for a
// caller that need not wait). want is the expected SHA-256 (zero:
// unknown); the piece must match it and the one from the task's metadata,
// if it has per-piece digests. If neither is known the piece is accepted
// as written (the caller trusts its source, the origin, and the whole-file
// digest is the check). A mismatch returns a [*DigestMismatchError] and
// the piece stays absent. Commit also fails if the writer had fewer bytes
// than the piece holds, and if the piece could not be made durable (the
// piece is then absent). The writer is ended whatever the outcome.
func (w *PieceWriter) Commit(want core.Digest) error { return w.commit(want, true) }

// Publish is [PieceWriter.Commit] without the wait: once the piece is
// verified it is present (served from the page cache, and the caller may
// report it) and Publish returns; a background group commit makes it
// durable. Until then a crash loses the piece: a restart finds it absent
// and fetches it again, and the journal never claims a piece whose bytes
// were not durable first. If the background commit fails the piece is
// absent again and [Task.Err] returns the error; [Task.Sync] waits for
// it.
func (w *PieceWriter) Publish(want core.Digest) error { return w.commit(want, false) }

func (w *PieceWriter) commit(want core.Digest, wait bool) error {
	if w.ended {
		return fmt.Errorf("piece: commit of ended writer for piece %d", w.i)
	}
	defer w.end()
	if w.err != nil {
		return w.err
	}
	if w.n != w.r.Len {
		return fmt.Errorf("%w: piece %d holds %d bytes, got %d", ErrPieceSize, w.i, w.r.Len, w.n)
	}
	var got core.Digest
	w.h.Sum(got[:0])
	for _, want := range w.t.expected(w.i, want) {
		if !want.IsZero() && want != got {
			return &DigestMismatchError{Task: w.t.hdr.id, Piece: int(w.i), Want: want, Got: got}
		}
	}
	return w.t.commit(w.i, got, w.tee, wait)
}

// Abort ends the writer without making the piece present. It is a no-op
// after Commit or a previous Abort.
func (w *PieceWriter) Abort() {
	if !w.ended {
		w.end()
	}
}

func (w *PieceWriter) end() {
	w.ended = true
	w.tee = nil
	w.t.mu.Lock()
	w.t.writing.clear(int(w.i))
	w.t.mu.Unlock()
}

// WritePiece writes piece i from r, reading exactly the piece's length (r
// may hold more, such as the rest of a stream), and commits it against want, as [PieceWriter.Commit] does. A piece
// already present is not an error: WritePiece returns nil without reading r.
func (t *Task) WritePiece(i core.PieceIndex, r io.Reader, want core.Digest) error {
	w, err := t.NewPieceWriter(i)
	if errors.Is(err, ErrPiecePresent) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := io.CopyN(w, r, w.r.Len); err != nil {
		w.Abort()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: piece %d holds %d bytes, got %d", ErrPieceSize, i, w.r.Len, w.n)
		}
		return err
	}
	return w.Commit(want)
}

// WritePieceBytes is WritePiece for a piece held in memory.
func (t *Task) WritePieceBytes(i core.PieceIndex, b []byte, want core.Digest) error {
	return t.WritePiece(i, bytes.NewReader(b), want)
}
