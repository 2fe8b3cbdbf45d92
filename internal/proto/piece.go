// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Piece is the header of a [GetPiece] reply that carries the piece. The
// Length piece bytes follow the header in the same wire message; the parent
// sends them with sendfile and the requester may splice them into its piece
// file. Use [Parse] to find where the header ends.
//
//	Piece: task [32] | index u32 | length u32, then length bytes of piece data
type Piece struct {
	Task   core.TaskID
	Index  core.PieceIndex
	Length uint32 // at most core.MaxPieceSize
}

func (*Piece) message() {}

// Type returns [TypePiece].
func (*Piece) Type() Type { return TypePiece }

// Len returns the encoded length of the header (without the piece bytes).
func (*Piece) Len() int { return HeaderLen + 32 + 4 + 4 }

// Append appends the encoding of the header to b.
func (m *Piece) Append(b []byte) ([]byte, error) {
	if m.Length > core.MaxPieceSize {
		return b, fmt.Errorf("piece: %w: length %d, limit %d", ErrLimit, m.Length, core.MaxPieceSize)
	}
	b = appendHeader(b, TypePiece)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU32(b, uint32(m.Index))
	return appendU32(b, m.Length), nil
}

func parsePiece(b []byte) (Piece, int, error) {
	d := format.Decoder(b)
	m := Piece{Task: d.Task(), Index: core.PieceIndex(d.U32()), Length: d.U32()}
	if d.Err() == nil && m.Length > core.MaxPieceSize {
		d.Fail(fmt.Errorf("%w: length %d, limit %d", ErrLimit, m.Length, core.MaxPieceSize))
	}
	n, err := d.Done()
	return m, n, err
}
