// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"errors"
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Sentinel errors. Test with errors.Is; most are wrapped with the piece
// index.
var (
	// ErrOutsideWindow is returned by Put and Reserve for a piece past the
	// window [read, read+Window) or past the task: the consumer has not
	// read far enough to make room. Try again after [Cache.Changed].
	ErrOutsideWindow = errors.New("stream: piece outside the window")
	// ErrDuplicate is returned by Put and Reserve for a piece the cache
	// holds or has already delivered.
	ErrDuplicate = errors.New("stream: duplicate piece")
	// ErrReserved is returned by Put and Reserve for a piece another
	// fetcher has reserved and not yet committed or released.
	ErrReserved = errors.New("stream: piece reserved by another fetcher")
	// ErrNotReserved is returned by Commit and Release for a piece that
	// is not reserved.
	ErrNotReserved = errors.New("stream: piece not reserved")
	// ErrSize is returned by Put for data whose length is not the
	// piece's length.
	ErrSize = errors.New("stream: wrong piece length")
	// ErrEvicted is returned by Get for a piece that was delivered and
	// then evicted; the daemon answers proto.Miss{Reason: MissEvicted}.
	ErrEvicted = errors.New("stream: piece evicted")
	// ErrNotHeld is returned by Get for a piece the cache has not
	// received (or not yet); the daemon answers proto.Miss{Reason:
	// MissNotHeld}.
	ErrNotHeld = errors.New("stream: piece not held")
	// ErrClosed is returned after [Cache.Close]; a consumer reading a
	// stream closed before its end gets it too.
	ErrClosed = errors.New("stream: closed")
	// ErrDigest marks a stream whose delivered bytes do not hash to
	// [Config.Digest]; the error is a [*DigestError].
	ErrDigest = errors.New("stream: digest mismatch")
	// ErrConfig marks an invalid [Config].
	ErrConfig = errors.New("stream: invalid config")
)

// DigestError reports that the delivered stream's SHA-256 is not the
// expected one. It is returned by Read and WriteTo in place of io.EOF.
type DigestError struct {
	Want, Got core.Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("stream: digest mismatch: want %s, got %s", e.Want, e.Got)
}

// Unwrap returns [ErrDigest].
func (e *DigestError) Unwrap() error { return ErrDigest }

// pieceErr wraps a sentinel with the piece it is about.
func pieceErr(err error, i core.PieceIndex) error {
	return fmt.Errorf("%w: piece %d", err, i)
}
