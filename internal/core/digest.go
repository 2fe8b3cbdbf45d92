// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package core

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrBadDigest is returned for a digest string that is not "sha256:" followed
// by 64 hex digits.
var ErrBadDigest = errors.New("core: invalid digest")

// digestPrefix names the only algorithm pollen uses.
const digestPrefix = "sha256:"

// Digest is a SHA-256 sum. The zero Digest means "unknown"; [Digest.IsZero]
// tells it apart (a real SHA-256 sum of all zero bits is not expected).
type Digest [sha256.Size]byte

// DigestOf returns the SHA-256 digest of b.
func DigestOf(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// ParseDigest parses "sha256:HEX" (hex in either case). An empty string is an
// error: callers that accept "no digest" check for it first.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	hexPart, ok := strings.CutPrefix(s, digestPrefix)
	if !ok {
		return d, fmt.Errorf("%w %q: want %s followed by %d hex digits", ErrBadDigest, s, digestPrefix, 2*len(d))
	}
	if len(hexPart) != hex.EncodedLen(len(d)) {
		return d, fmt.Errorf("%w %q: want %d hex digits, have %d", ErrBadDigest, s, 2*len(d), len(hexPart))
	}
	if _, err := hex.Decode(d[:], []byte(hexPart)); err != nil {
		return Digest{}, fmt.Errorf("%w %q: %w", ErrBadDigest, s, err)
	}
	return d, nil
}

// String formats d as "sha256:HEX" with lowercase hex.
func (d Digest) String() string { return digestPrefix + hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero (unknown) digest.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
