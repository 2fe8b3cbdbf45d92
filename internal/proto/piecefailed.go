// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Reason says why a piece fetch failed.
type Reason uint8

// Failure reasons.
const (
	// ReasonCorrupt: the parent served bytes that failed verification. The
	// scheduler excludes that parent for the whole task.
	ReasonCorrupt Reason = 1
	// ReasonUnreachable: the parent (or the source) could not be reached or
	// broke off mid-piece.
	ReasonUnreachable Reason = 2
	// ReasonEvicted: the parent answered [Miss]; it no longer holds the piece.
	ReasonEvicted Reason = 3
	// ReasonLocal: the requester itself failed (disk full, cancelled); the
	// parent is not blamed.
	ReasonLocal Reason = 4
)

func (r Reason) String() string {
	switch r {
	case ReasonCorrupt:
		return "corrupt"
	case ReasonUnreachable:
		return "unreachable"
	case ReasonEvicted:
		return "evicted"
	case ReasonLocal:
		return "local"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// PieceFailed reports that fetching an assigned piece failed. Parent is the
// peer it was fetched from, zero for the source. The scheduler releases the
// assignment and will not offer that parent for that piece to this peer
// again. Answered with [Ack].
//
//	PieceFailed: peer [16] | task [32] | index u32 | parent [16] | reason u8
type PieceFailed struct {
	Peer   core.PeerID
	Task   core.TaskID
	Index  core.PieceIndex
	Parent core.PeerID // zero: the source
	Reason Reason
}

func (*PieceFailed) message() {}

// Type returns [TypePieceFailed].
func (*PieceFailed) Type() Type { return TypePieceFailed }

// Len returns the encoded length.
func (*PieceFailed) Len() int { return HeaderLen + 16 + 32 + 4 + 16 + 1 }

func (m *PieceFailed) validate() error {
	if m.Reason < ReasonCorrupt || m.Reason > ReasonLocal {
		return fmt.Errorf("%w: reason %d", ErrMalformed, m.Reason)
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *PieceFailed) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("piece failed: %w", err)
	}
	b = appendHeader(b, TypePieceFailed)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU32(b, uint32(m.Index))
	b = append(b, m.Parent[:]...)
	return append(b, byte(m.Reason)), nil
}

func parsePieceFailed(b []byte) (PieceFailed, int, error) {
	d := format.Decoder(b)
	m := PieceFailed{Peer: d.Peer(), Task: d.Task(), Index: core.PieceIndex(d.U32()), Parent: d.Peer(), Reason: Reason(d.U8())}
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
