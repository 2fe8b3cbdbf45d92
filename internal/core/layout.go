// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package core

import (
	"errors"
	"fmt"
	"math/bits"
)

// Piece size bounds. [PieceSizeFor] picks a power of two in
// [MinPieceSize, MaxPieceSize]; a [Layout] accepts any size in
// [1, MaxPieceSize] so that a piece size given by the user is honoured.
const (
	MinPieceSize = 128 << 10 // 128 KiB
	MaxPieceSize = 16 << 20  // 16 MiB

	// TargetMaxPieces is the piece count PieceSizeFor aims to stay under:
	// enough pieces to spread over many peers, few enough that per-piece
	// bookkeeping (bitmaps, scheduler messages, fsyncs) stays small.
	TargetMaxPieces = 2048

	// MaxPieces bounds the piece count of any task, so that a bitmap or a
	// digest list sized from a peer's claim stays bounded.
	MaxPieces = 1 << 22
)

// ErrBadLayout is returned by [Layout.Validate].
var ErrBadLayout = errors.New("core: invalid layout")

// PieceIndex is the position of a piece in its task, from 0.
type PieceIndex uint32

// Range is a byte range [Off, Off+Len).
type Range struct {
	Off int64 // first byte
	Len int64 // number of bytes
}

// End returns the offset one past the last byte of r.
func (r Range) End() int64 { return r.Off + r.Len }

// String formats r as "[off, end)".
func (r Range) String() string { return fmt.Sprintf("[%d, %d)", r.Off, r.End()) }

// PieceSizeFor returns the piece size for a file of size bytes: the smallest
// power of two that keeps the piece count at or below [TargetMaxPieces],
// clamped to [MinPieceSize, MaxPieceSize]. Files up to 256 MiB therefore get
// 128 KiB pieces, a 512 MiB file 256 KiB pieces, a 4 GiB file 2 MiB pieces,
// and files over 32 GiB 16 MiB pieces (more than 2048 of them).
//
// The minimum is set by a swarm's tail, not by per-piece costs: a piece
// is passed on only once it is whole and verified, and at equal up- and
// download rates the peers' copies trail the origin by about the pieces
// in flight (each parent's upload shared by several children), which they
// make up only after the origin's last byte. Halving the piece halves
// that backlog: in the 16-peer lab at 25 Mbit/s the last peer finished
// 0.2-0.3 s sooner with 128 KiB than with 256 KiB, and the scheduler's
// simulation of that lab gives 1.035x the bound against 1.067x
// (docs/benchmarks.md, "issue 4 targets").
func PieceSizeFor(size int64) int64 {
	if size <= MinPieceSize*TargetMaxPieces {
		return MinPieceSize
	}
	per := (size + TargetMaxPieces - 1) / TargetMaxPieces
	ps := int64(1) << bits.Len64(uint64(per-1)) // next power of two >= per
	return min(ps, MaxPieceSize)
}

// Layout is how a task's bytes are cut into pieces: every piece is PieceSize
// bytes except the last, which may be shorter. A zero-size task has no
// pieces. The zero Layout is not valid.
type Layout struct {
	Size      int64 // total bytes, >= 0
	PieceSize int64 // bytes per piece, in [1, MaxPieceSize]
}

// LayoutFor returns the layout of a file of size bytes with the piece size
// [PieceSizeFor] chooses.
func LayoutFor(size int64) Layout { return Layout{Size: size, PieceSize: PieceSizeFor(size)} }

// Validate reports whether l describes a task pollen can store.
func (l Layout) Validate() error {
	switch {
	case l.Size < 0:
		return fmt.Errorf("%w: negative size %d", ErrBadLayout, l.Size)
	case l.PieceSize <= 0 || l.PieceSize > MaxPieceSize:
		return fmt.Errorf("%w: piece size %d outside [1, %d]", ErrBadLayout, l.PieceSize, MaxPieceSize)
	case l.Size/l.PieceSize > MaxPieces:
		return fmt.Errorf("%w: %d bytes in %d-byte pieces is more than %d pieces", ErrBadLayout, l.Size, l.PieceSize, MaxPieces)
	}
	return nil
}

// Pieces returns the number of pieces. l must be valid.
func (l Layout) Pieces() int {
	return int((l.Size + l.PieceSize - 1) / l.PieceSize)
}

// Piece returns the byte range of piece i. It panics if i is out of range,
// like a slice index: callers check i against Pieces first.
func (l Layout) Piece(i PieceIndex) Range {
	if int64(i) >= int64(l.Pieces()) {
		panic(fmt.Sprintf("core: piece %d out of range [0, %d)", i, l.Pieces()))
	}
	off := int64(i) * l.PieceSize
	return Range{Off: off, Len: min(l.PieceSize, l.Size-off)}
}

// Contains reports whether i is a piece of l.
func (l Layout) Contains(i PieceIndex) bool { return int64(i) < int64(l.Pieces()) }

// PieceAt returns the piece that holds byte off, and false if off is outside
// the task.
func (l Layout) PieceAt(off int64) (PieceIndex, bool) {
	if off < 0 || off >= l.Size {
		return 0, false
	}
	return PieceIndex(off / l.PieceSize), true
}

// Span returns the pieces [first, last] that overlap r, and false if r is
// empty or reaches outside the task.
func (l Layout) Span(r Range) (first, last PieceIndex, ok bool) {
	if r.Len <= 0 || r.Off < 0 || r.End() > l.Size {
		return 0, 0, false
	}
	return PieceIndex(r.Off / l.PieceSize), PieceIndex((r.End() - 1) / l.PieceSize), true
}
