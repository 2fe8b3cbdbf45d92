// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"errors"
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// Sentinel errors. Match them with [errors.Is]; the daemon wraps them with
// context and keeps the cause (a piece.ErrDiskFull, a source.ErrGaveUp, a
// *piece.DigestMismatchError) in the chain.
var (
	// ErrClosed is returned by operations on a closed [Daemon] or
	// [Client] and by [Daemon.Run] after [Daemon.Close].
	ErrClosed = errors.New("daemon: closed")
	// ErrDigest reports a download whose whole-file SHA-256 is not the one
	// asked for (Request.Digest). The task is deleted.
	ErrDigest = errors.New("daemon: digest mismatch")
	// ErrSource reports a piece the origin could not deliver after its
	// retries (a 5xx, a stall, a refused connection). The download fails.
	ErrSource = errors.New("daemon: source failed")
	// ErrDiskFull reports a download that ran out of disk or quota. No
	// piece or output is left looking complete.
	ErrDiskFull = errors.New("daemon: disk full")
	// ErrCanceled reports a download abandoned by its caller.
	ErrCanceled = errors.New("daemon: download canceled")
	// ErrBadRequest reports a Request the daemon cannot serve (bad URL,
	// relative output path, bad piece size).
	ErrBadRequest = errors.New("daemon: bad request")
	// ErrBusy reports a request for a task this daemon is already
	// downloading in the other mode (a stream while a file download of the
	// same object runs, or the reverse), or streaming to another consumer.
	ErrBusy = errors.New("daemon: task busy")
	// errCorrupt marks a piece from a peer that failed verification; the
	// peer is reported (PieceFailed{corrupt}) and excluded.
	errCorrupt = errors.New("daemon: corrupt piece from peer")
	// errMiss marks a parent that answered Miss.
	errMiss = errors.New("daemon: parent does not serve the piece")
	// errNoScheduler is returned by scheduler calls when there is none.
	errNoScheduler = errors.New("daemon: no scheduler")
)

// schedError is a scheduler's Error reply.
type schedError struct{ reply *proto.Error }

func (e schedError) Error() string { return "daemon: scheduler: " + e.reply.Error() }

// codeOf returns the scheduler error code in err's chain, or 0.
func codeOf(err error) proto.ErrorCode {
	var se schedError
	if errors.As(err, &se) {
		return se.reply.Code
	}
	return 0
}

// pieceErr wraps err with the piece and where it came from.
func pieceErr(i core.PieceIndex, from string, err error) error {
	return fmt.Errorf("piece %d from %s: %w", i, from, err)
}
