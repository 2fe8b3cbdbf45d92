// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// MissReason says why a parent did not serve a piece.
type MissReason uint8

// Miss reasons.
const (
	MissEvicted MissReason = 1 // the piece left the parent's stream window or was collected
	MissNotHeld MissReason = 2 // the parent never had the piece (or not the task)
	MissBusy    MissReason = 3 // the parent's upload slots are full; try another parent
)

// Miss answers [GetPiece] when the parent does not serve the piece. The
// requester reports it to the scheduler with [PieceFailed] (reason
// [ReasonEvicted] for MissEvicted and MissNotHeld).
//
//	Miss: task [32] | index u32 | reason u8
type Miss struct {
	Task   core.TaskID
	Index  core.PieceIndex
	Reason MissReason
}

func (*Miss) message() {}

// Type returns [TypeMiss].
func (*Miss) Type() Type { return TypeMiss }

// Len returns the encoded length.
func (*Miss) Len() int { return HeaderLen + 32 + 4 + 1 }

func (m *Miss) validate() error {
	if m.Reason < MissEvicted || m.Reason > MissBusy {
		return fmt.Errorf("%w: miss reason %d", ErrMalformed, m.Reason)
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *Miss) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("miss: %w", err)
	}
	b = appendHeader(b, TypeMiss)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU32(b, uint32(m.Index))
	return append(b, byte(m.Reason)), nil
}

func parseMiss(b []byte) (Miss, int, error) {
	d := format.Decoder(b)
	m := Miss{Task: d.Task(), Index: core.PieceIndex(d.U32()), Reason: MissReason(d.U8())}
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
