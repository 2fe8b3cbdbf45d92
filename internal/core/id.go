// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrBadID is returned for a task or peer id that is not well-formed hex of
// the right length.
var ErrBadID = errors.New("core: invalid id")

// TaskID names a task: one source object cut into pieces of one size. It is
// 64 lowercase hex digits, safe to use as a file name. Two daemons that ask
// for the same object with the same piece size derive the same TaskID, which
// is how the scheduler puts them in one swarm.
type TaskID string

// taskIDLen is the length of a TaskID: a hex SHA-256.
const taskIDLen = 2 * sha256.Size

// TaskIDForURL derives the TaskID of the object at url cut into pieceSize
// pieces. Use it when the object's digest is not known in advance.
func TaskIDForURL(url string, pieceSize int64) TaskID {
	return taskID("url", []byte(url), pieceSize)
}

// TaskIDForDigest derives the TaskID of the object with digest d cut into
// pieceSize pieces. Objects with a known digest share a swarm whatever URL
// they were fetched from.
func TaskIDForDigest(d Digest, pieceSize int64) TaskID {
	return taskID("digest", d[:], pieceSize)
}

// TaskIDForManifest derives the TaskID of the object whose pieces of
// pieceSize bytes have the given SHA-256 digests, in order (a manifest).
// Like a whole-file digest, a manifest names the content, not where it
// comes from; the two never give the same id.
func TaskIDForManifest(pieces []Digest, pieceSize int64) TaskID {
	key := make([]byte, 0, len(pieces)*len(Digest{}))
	for _, d := range pieces {
		key = append(key, d[:]...)
	}
	return taskID("manifest", key, pieceSize)
}

// taskID hashes a domain-separated, length-prefixed encoding so that no URL
// can collide with a digest or another piece size.
func taskID(kind string, key []byte, pieceSize int64) TaskID {
	h := sha256.New()
	var b []byte
	b = append(b, "pollen task v1\x00"...)
	b = append(b, kind...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint64(b, uint64(pieceSize))
	h.Write(b)
	return TaskID(hex.EncodeToString(h.Sum(nil)))
}

// ParseTaskID checks that s is a well-formed TaskID (64 lowercase hex digits).
func ParseTaskID(s string) (TaskID, error) {
	if err := checkHex(s, taskIDLen); err != nil {
		return "", fmt.Errorf("task id %q: %w", s, err)
	}
	return TaskID(s), nil
}

// Valid reports whether id is well-formed.
func (id TaskID) Valid() bool { return checkHex(string(id), taskIDLen) == nil }

// String returns id unchanged.
func (id TaskID) String() string { return string(id) }

// Short returns the first 12 hex digits of id, for logs.
func (id TaskID) Short() string {
	if len(id) > 12 {
		return string(id[:12])
	}
	return string(id)
}

// PeerID names one daemon for the lifetime of its data directory. The zero
// PeerID means "no peer" (for example: the piece came from the origin).
type PeerID [16]byte

// NewPeerID returns a random PeerID.
func NewPeerID() PeerID {
	var p PeerID
	rand.Read(p[:]) // never returns an error (crypto/rand since Go 1.24)
	return p
}

// ParsePeerID parses the 32 lowercase hex digits [PeerID.String] prints.
func ParsePeerID(s string) (PeerID, error) {
	var p PeerID
	if err := checkHex(s, 2*len(p)); err != nil {
		return p, fmt.Errorf("peer id %q: %w", s, err)
	}
	_, _ = hex.Decode(p[:], []byte(s)) // checked above: cannot fail
	return p, nil
}

// String formats p as 32 lowercase hex digits.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// IsZero reports whether p is the zero PeerID.
func (p PeerID) IsZero() bool { return p == PeerID{} }

// MarshalText implements encoding.TextMarshaler.
func (p PeerID) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PeerID) UnmarshalText(b []byte) error {
	v, err := ParsePeerID(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// checkHex reports whether s is exactly n lowercase hex digits. Uppercase is
// refused so that one id has one spelling (ids become file names).
func checkHex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("%w: want %d hex digits, have %d characters", ErrBadID, n, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('0' > c || c > '9') && ('a' > c || c > 'f') {
			return fmt.Errorf("%w: character %q at %d is not lowercase hex", ErrBadID, c, i)
		}
	}
	return nil
}
