// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Evicted reports pieces the peer no longer serves (stream-mode window
// eviction, or garbage collection). The scheduler stops offering the peer as
// a parent for them; the peer still counts as having received them.
// Answered with [Ack].
//
//	Evicted: peer [16] | task [32] | count u16 | index u32*count
type Evicted struct {
	Peer    core.PeerID
	Task    core.TaskID
	Indices []uint32 // 1 to MaxBatch
}

func (*Evicted) message() {}

// Type returns [TypeEvicted].
func (*Evicted) Type() Type { return TypeEvicted }

// Len returns the encoded length.
func (m *Evicted) Len() int { return HeaderLen + 16 + 32 + 2 + 4*len(m.Indices) }

// Append appends the encoding of m to b.
func (m *Evicted) Append(b []byte) ([]byte, error) {
	if len(m.Indices) == 0 || len(m.Indices) > MaxBatch {
		return b, fmt.Errorf("evicted: %w: %d pieces outside [1, %d]", ErrLimit, len(m.Indices), MaxBatch)
	}
	b = appendHeader(b, TypeEvicted)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU16(b, uint16(len(m.Indices)))
	for _, i := range m.Indices {
		b = appendU32(b, i)
	}
	return b, nil
}

func parseEvicted(b []byte) (Evicted, int, error) {
	d := format.Decoder(b)
	var m Evicted
	m.Peer = d.Peer()
	m.Task = d.Task()
	if k := d.Count(2, 1, MaxBatch, 4, "pieces"); k > 0 {
		m.Indices = make([]uint32, k)
		for i := range m.Indices {
			m.Indices[i] = d.U32()
		}
	}
	n, err := d.Done()
	return m, n, err
}
