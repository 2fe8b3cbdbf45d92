// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// RequestPieces asks which pieces of a task the peer should fetch next, and
// from whom. Max is how many the peer can start now (its free download
// slots). If nothing can be assigned at once, the scheduler holds the
// request for up to WaitMillis and answers as soon as something can be
// assigned (a long poll); WaitMillis 0 answers at once. Answered with
// [Schedule].
//
// Done reports pieces completed since the peer's last report, exactly as a
// [PieceDone] with the same pieces would, before the request is served: a
// daemon that asks for work because a piece finished reports it in the same
// round trip (protocol version 2).
//
//	RequestPieces: peer [16] | task [32] | max u16 | waitMillis u32 |
//	               count u16 | (index u32 | digest [32])*count
type RequestPieces struct {
	Peer       core.PeerID
	Task       core.TaskID
	Max        uint16      // in [1, MaxBatch]
	WaitMillis uint32      // at most MaxRetryMilli
	Done       []DonePiece // at most MaxBatch
}

func (*RequestPieces) message() {}

// Type returns [TypeRequestPieces].
func (*RequestPieces) Type() Type { return TypeRequestPieces }

// Len returns the encoded length.
func (m *RequestPieces) Len() int { return HeaderLen + 16 + 32 + 2 + 4 + 2 + 36*len(m.Done) }

func (m *RequestPieces) validate() error {
	if m.Max == 0 || m.Max > MaxBatch {
		return fmt.Errorf("%w: max %d outside [1, %d]", ErrLimit, m.Max, MaxBatch)
	}
	if m.WaitMillis > MaxRetryMilli {
		return fmt.Errorf("%w: wait %d ms, limit %d", ErrLimit, m.WaitMillis, MaxRetryMilli)
	}
	if len(m.Done) > MaxBatch {
		return fmt.Errorf("%w: %d done pieces, limit %d", ErrLimit, len(m.Done), MaxBatch)
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *RequestPieces) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("request pieces: %w", err)
	}
	b = appendHeader(b, TypeRequestPieces)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU16(b, m.Max)
	b = appendU32(b, m.WaitMillis)
	return appendDone(b, m.Done), nil
}

func parseRequestPieces(b []byte) (RequestPieces, int, error) {
	d := format.Decoder(b)
	m := RequestPieces{Peer: d.Peer(), Task: d.Task(), Max: d.U16(), WaitMillis: d.U32()}
	m.Done = parseDone(&d, 0)
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
