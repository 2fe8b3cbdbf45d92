// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/pollen-dev/pollen/internal/core"
)

// Sentinel errors. Test with errors.Is; they are wrapped with context.
// Each maps to a [Code] that travels back to the pusher in a [Result].
var (
	// ErrBadName marks a name that could escape the directory or is not
	// a plain relative path; the error is a [*NameError].
	ErrBadName = errors.New("push: bad file name")
	// ErrTooLarge marks a file over [Config.MaxSize], or more bytes than
	// the offer announced.
	ErrTooLarge = errors.New("push: file too large")
	// ErrSize marks a file that ended before its announced size.
	ErrSize = errors.New("push: file shorter than announced")
	// ErrDiskFull marks a failure caused by a full disk or an exhausted
	// quota (ENOSPC, EDQUOT). Nothing of the file is left behind.
	ErrDiskFull = errors.New("push: disk full")
	// ErrDigest marks a file whose SHA-256 is not the announced one; the
	// error is a [*DigestError].
	ErrDigest = errors.New("push: digest mismatch")
	// ErrExists marks a destination that already exists (and
	// [Config.Overwrite] is off), or is a directory.
	ErrExists = errors.New("push: destination exists")
	// ErrUnauthorized marks a push without the right token or
	// certificate.
	ErrUnauthorized = errors.New("push: unauthorized")
	// ErrNoAuth is returned by [Config.Validate] when neither a token nor
	// a peer verifier is configured and Insecure is not set.
	ErrNoAuth = errors.New("push: no token configured (set one, or run --insecure)")
	// ErrConfig marks an invalid [Config].
	ErrConfig = errors.New("push: invalid config")
	// ErrClosed is returned after [Receiver.Close], and by a File used
	// after Commit or Abort.
	ErrClosed = errors.New("push: closed")
	// ErrBadOffer marks an offer the receiver cannot act on (no digest,
	// an invalid layout).
	ErrBadOffer = errors.New("push: bad offer")
	// ErrFetch marks a receiver that could not get the file's pieces from
	// the swarm or the pusher.
	ErrFetch = errors.New("push: fetch failed")

	// Codec errors. Truncated input is io.ErrUnexpectedEOF.
	ErrVersion     = errors.New("push: unsupported protocol version")
	ErrUnknownType = errors.New("push: unknown message type")
	ErrLimit       = errors.New("push: length over limit")
	ErrMalformed   = errors.New("push: malformed message")
	ErrTrailing    = errors.New("push: trailing bytes after message")
)

// NameError reports a pushed name that is refused, and why.
type NameError struct {
	Name   string // as received (printed quoted)
	Reason string
}

func (e *NameError) Error() string {
	name := e.Name
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return fmt.Sprintf("push: bad file name %q: %s", name, e.Reason)
}

// Unwrap returns [ErrBadName].
func (e *NameError) Unwrap() error { return ErrBadName }

// DigestError reports a received file whose SHA-256 is not the announced
// one.
type DigestError struct {
	Name      string
	Want, Got core.Digest
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("push: %q: digest mismatch: want %s, got %s", e.Name, e.Want, e.Got)
}

// Unwrap returns [ErrDigest].
func (e *DigestError) Unwrap() error { return ErrDigest }

// diskErr wraps err with op and, for a full disk or quota, [ErrDiskFull].
func diskErr(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("push: %s: %w: %w", op, ErrDiskFull, err)
	}
	return fmt.Errorf("push: %s: %w", op, err)
}
