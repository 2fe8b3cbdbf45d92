// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pollen-dev/pollen/internal/core"
)

// Seed is a local file ready to push: its layout, whole-file SHA-256,
// per-piece digests and task id (named by the manifest when there is one,
// else by the whole-file digest).
type Seed struct {
	Path   string
	Name   string // the base name offered to receivers
	Layout core.Layout
	Digest core.Digest
	Pieces []core.Digest // one per piece; nil when there are more than MaxPieceDigests
	Task   core.TaskID
}

// MinPieceSize is the smallest piece a push chooses by itself: 256 KiB,
// what push was measured with (docs/benchmarks.md, "## push"). Swarms
// fetched with `pollen get` use [core.PieceSizeFor]'s smaller minimum,
// measured for swarms only; a push's receivers are fed by the pusher at
// their full link rate from the first piece, and its per-piece round trips
// weigh more with smaller pieces.
const MinPieceSize = 256 << 10

// HashFile reads the file at p once, sequentially, and returns its seed:
// the whole-file digest and the digest of every piece of pieceSize bytes
// (0: [core.PieceSizeFor] the size, at least [MinPieceSize]) in the same
// pass.
func HashFile(p string, pieceSize int64) (*Seed, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("push: %s: not a regular file", p)
	}
	if pieceSize == 0 {
		pieceSize = max(core.PieceSizeFor(fi.Size()), MinPieceSize)
	}
	s := &Seed{Path: p, Name: filepath.Base(p), Layout: core.Layout{Size: fi.Size(), PieceSize: pieceSize}}
	if err := s.Layout.Validate(); err != nil {
		return nil, fmt.Errorf("push: %s: %w", p, err)
	}
	whole := sha256.New()
	n := s.Layout.Pieces()
	keep := n <= MaxPieceDigests
	if keep {
		s.Pieces = make([]core.Digest, 0, n)
	}
	buf := make([]byte, min(pieceSize, max(fi.Size(), 1)))
	var total int64
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 {
			whole.Write(buf[:k])
			if keep {
				s.Pieces = append(s.Pieces, core.DigestOf(buf[:k]))
			}
			total += int64(k)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("push: read %s: %w", p, rerr)
		}
	}
	if total != fi.Size() || (keep && len(s.Pieces) != n) {
		return nil, fmt.Errorf("push: %s changed while it was read", p)
	}
	s.Digest = core.Digest(whole.Sum(nil))
	// With a manifest the task is named by it: receivers then check every
	// piece against it and hash each byte once (see [Server]); without
	// one, by the whole-file digest, which they compute as pieces arrive.
	s.Task = core.TaskIDForDigest(s.Digest, pieceSize)
	if len(s.Pieces) > 0 {
		s.Task = core.TaskIDForManifest(s.Pieces, pieceSize)
	}
	return s, nil
}
