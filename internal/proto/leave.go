// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import "github.com/pollen-dev/pollen/internal/core"

// Leave takes the peer out of one task, or with All out of every task and
// the scheduler's peer table (a daemon shutting down). Pieces assigned to
// or from the peer are re-scheduled. Answered with [Ack].
//
//	Leave: peer [16] | task [32] | all u8 (0 or 1)
type Leave struct {
	Peer core.PeerID
	Task core.TaskID // ignored when All
	All  bool
}

func (*Leave) message() {}

// Type returns [TypeLeave].
func (*Leave) Type() Type { return TypeLeave }

// Len returns the encoded length.
func (*Leave) Len() int { return HeaderLen + 16 + 32 + 1 }

// Append appends the encoding of m to b.
func (m *Leave) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeLeave)
	b = append(b, m.Peer[:]...)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	if m.All {
		return append(b, 1), nil
	}
	return append(b, 0), nil
}

func parseLeave(b []byte) (Leave, int, error) {
	d := format.Decoder(b)
	m := Leave{Peer: d.Peer(), Task: d.Task(), All: d.Flag("all")}
	n, err := d.Done()
	return m, n, err
}
