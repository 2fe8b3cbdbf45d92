// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/pollen-dev/pollen/internal/core"
)

// Sentinel errors. Test with errors.Is; most are wrapped with context.
var (
	// ErrDiskFull marks a failure caused by a full disk or an exhausted
	// disk quota (ENOSPC, EDQUOT). The write that failed left nothing
	// marked present or complete.
	ErrDiskFull = errors.New("piece: disk full")
	// ErrQuota is returned by [Store.Create] when the task does not fit in
	// the store's quota even after garbage collection.
	ErrQuota = errors.New("piece: quota exceeded")
	// ErrNotFound is returned for a task the store does not hold.
	ErrNotFound = errors.New("piece: task not found")
	// ErrExists is returned by [Store.Create] for a task id that exists with
	// a different layout or digest.
	ErrExists = errors.New("piece: task exists with different metadata")
	// ErrInUse is returned by [Store.Delete] for a pinned task.
	ErrInUse = errors.New("piece: task in use")
	// ErrClosed is returned after [Store.Close] or for a deleted task.
	ErrClosed = errors.New("piece: closed")
	// ErrRange is returned for a piece index outside the task.
	ErrRange = errors.New("piece: piece index out of range")
	// ErrPieceMissing is returned when serving a piece the task does not
	// have.
	ErrPieceMissing = errors.New("piece: piece not present")
	// ErrPiecePresent is returned by [Task.NewPieceWriter] for a piece the
	// task already has; the caller can skip it.
	ErrPiecePresent = errors.New("piece: piece already present")
	// ErrPieceBusy is returned by [Task.NewPieceWriter] while another
	// writer holds the piece.
	ErrPieceBusy = errors.New("piece: piece being written")
	// ErrPieceSize is returned when a piece writer gets more or fewer
	// bytes than the piece holds.
	ErrPieceSize = errors.New("piece: wrong piece length")
	// ErrIncomplete is returned by [Task.Export] before the task is
	// complete and verified.
	ErrIncomplete = errors.New("piece: task incomplete")
	// ErrCorrupt marks a journal that cannot be decoded: bad checksum,
	// unknown record, impossible values.
	ErrCorrupt = errors.New("piece: corrupt journal")
)

// WholeFile is the Piece of a [DigestMismatchError] about the whole file
// rather than one piece.
const WholeFile = -1

// DigestMismatchError reports bytes whose SHA-256 is not the expected one.
// For a piece it means a corrupt piece or a bad peer: drop the bytes, blame
// the peer, fetch the piece elsewhere. For the whole file (Piece ==
// [WholeFile]) every piece matched what it was checked against but the
// result is not the object asked for: the task must be deleted.
type DigestMismatchError struct {
	Task  core.TaskID
	Piece int // piece index, or WholeFile
	Want  core.Digest
	Got   core.Digest
}

func (e *DigestMismatchError) Error() string {
	what := fmt.Sprintf("piece %d", e.Piece)
	if e.Piece == WholeFile {
		what = "whole file"
	}
	return fmt.Sprintf("piece: task %s: %s digest mismatch: want %s, got %s", e.Task.Short(), what, e.Want, e.Got)
}

// diskErr returns err wrapped with op and, if the cause is a full disk or
// quota, with [ErrDiskFull] so that callers can act on it.
func diskErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%s: %w: %w", op, ErrDiskFull, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
