// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

// PieceDone reports pieces the peer has fetched and verified, one or a batch.
// Each carries the digest the peer verified (or, for a source fetch,
// computed); the scheduler keeps the first digest reported for a source
// fetch and hands it to later fetchers. Reporting a piece acknowledges it:
// in stream mode it advances the peer's window. Answered with [Ack].
//
//	PieceDone: peer [16] | task [32] | count u16 | (index u32 | digest [32])*count
type PieceDone struct {
	Peer   core.PeerID
	Task   core.TaskID
	Pieces []DonePiece // 1 to MaxBatch
}

// DonePiece is one completed piece.
type DonePiece struct {
	Index  core.PieceIndex
	Digest core.Digest
}

func (*PieceDone) message() {}

// Type returns [TypePieceDone].
func (*PieceDone) Type() Type { return TypePieceDone }

// Len returns the encoded length.
func (m *PieceDone) Len() int { return HeaderLen + 16 + 32 + 2 + 36*len(m.Pieces) }

// Append appends the encoding of m to b.
func (m *PieceDone) Append(b []byte) ([]byte, error) {
	if len(m.Pieces) == 0 || len(m.Pieces) > MaxBatch {
		return b, fmt.Errorf("piece done: %w: %d pieces outside [1, %d]", ErrLimit, len(m.Pieces), MaxBatch)
	}
	b = appendHeader(b, TypePieceDone)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	return appendDone(b, m.Pieces), nil
}

// appendDone appends a count u16 and the pieces, (index u32 | digest [32])
// each; the caller has checked the count.
func appendDone(b []byte, pieces []DonePiece) []byte {
	b = appendU16(b, uint16(len(pieces)))
	for _, p := range pieces {
		b = appendU32(b, uint32(p.Index))
		b = append(b, p.Digest[:]...)
	}
	return b
}

// parseDone reads what appendDone wrote: at least least and at most
// MaxBatch pieces; nil for none.
func parseDone(d *codec.Decoder, least int) []DonePiece {
	k := d.Count(2, least, MaxBatch, 36, "pieces")
	if k <= 0 {
		return nil
	}
	pieces := make([]DonePiece, k)
	for i := range pieces {
		pieces[i] = DonePiece{Index: core.PieceIndex(d.U32()), Digest: d.Digest()}
	}
	return pieces
}

func parsePieceDone(b []byte) (PieceDone, int, error) {
	d := format.Decoder(b)
	var m PieceDone
	m.Peer = d.Peer()
	m.Task = d.Task()
	m.Pieces = parseDone(&d, 1)
	n, err := d.Done()
	return m, n, err
}
