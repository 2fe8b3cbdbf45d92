// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import "github.com/pollen-dev/pollen/internal/core"

// GetPiece asks a parent for one piece. The parent answers with [Piece]
// followed by the piece bytes, or with [Miss].
//
//	GetPiece: task [32] | index u32 | peer [16] (the requester)
type GetPiece struct {
	Task  core.TaskID
	Index core.PieceIndex
	Peer  core.PeerID
}

func (*GetPiece) message() {}

// Type returns [TypeGetPiece].
func (*GetPiece) Type() Type { return TypeGetPiece }

// Len returns the encoded length.
func (*GetPiece) Len() int { return HeaderLen + 32 + 4 + 16 }

// Append appends the encoding of m to b.
func (m *GetPiece) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeGetPiece)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU32(b, uint32(m.Index))
	return append(b, m.Peer[:]...), nil
}

func parseGetPiece(b []byte) (GetPiece, int, error) {
	d := format.Decoder(b)
	m := GetPiece{Task: d.Task(), Index: core.PieceIndex(d.U32()), Peer: d.Peer()}
	n, err := d.Done()
	return m, n, err
}
