// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// ScheduleState says what a [Schedule] means for the requester.
type ScheduleState uint8

// Schedule states.
const (
	// StateAssigned: Assignments lists pieces to fetch now.
	StateAssigned ScheduleState = 0
	// StateWait: nothing can be assigned now; ask again after RetryMillis
	// or after the next piece completes, whichever is first.
	StateWait ScheduleState = 1
	// StateDone: the peer holds (or has acknowledged) every piece.
	StateDone ScheduleState = 2
)

// Schedule answers [RequestPieces], for the task the request named. Each
// assignment names one piece and where to fetch it: from the listed parents
// (try them in order), or from the source. Digest is the piece's SHA-256
// when the scheduler knows it (it learns it from the first report of a
// source fetch); the requester verifies the piece against it before keeping
// or serving it.
//
//	Schedule:   state u8 | retryMillis u32 | count u16 | assignment*count
//	assignment: index u32 | flags u8 | digest [32] if flags&2 |
//	            parentCount u8 | parent*parentCount
//	parent:     peer [16] | address
//
// flags bit 0 (1): fetch from the source; then parentCount is 0, otherwise
// it is in [1, MaxParents]. flags bit 1 (2): digest present. Other bits are
// zero. Assignments are empty unless state is StateAssigned. A parent's
// address is encoded as [appendAddr] says: 7 bytes for an IPv4 host:port.
// (Version 1 began with the task's id, which the requester knows.)
type Schedule struct {
	State       ScheduleState
	RetryMillis uint32 // at most MaxRetryMilli
	Assignments []Assignment
}

// Assignment is one piece to fetch.
type Assignment struct {
	Index   core.PieceIndex
	Source  bool        // fetch from the source (Parents empty)
	Digest  core.Digest // zero when unknown
	Parents []Parent    // in order of preference; at most MaxParents
}

// Parent is a peer to fetch a piece from.
type Parent struct {
	Peer core.PeerID
	Addr string // at most MaxAddrLen bytes
}

const (
	flagSource = 1 << 0
	flagDigest = 1 << 1
)

func (*Schedule) message() {}

// Type returns [TypeSchedule].
func (*Schedule) Type() Type { return TypeSchedule }

// Len returns the encoded length.
func (m *Schedule) Len() int {
	n := HeaderLen + 1 + 4 + 2
	for i := range m.Assignments {
		a := &m.Assignments[i]
		n += 4 + 1 + 1
		if !a.Digest.IsZero() {
			n += 32
		}
		for _, p := range a.Parents {
			n += 16 + addrLen(p.Addr)
		}
	}
	return n
}

func (m *Schedule) validate() error {
	if m.State > StateDone {
		return fmt.Errorf("%w: state %d", ErrMalformed, m.State)
	}
	if m.RetryMillis > MaxRetryMilli {
		return fmt.Errorf("%w: retry %d ms, limit %d", ErrLimit, m.RetryMillis, MaxRetryMilli)
	}
	if len(m.Assignments) > MaxBatch {
		return fmt.Errorf("%w: %d assignments, limit %d", ErrLimit, len(m.Assignments), MaxBatch)
	}
	if m.State != StateAssigned && len(m.Assignments) > 0 {
		return fmt.Errorf("%w: assignments in state %d", ErrMalformed, m.State)
	}
	for i := range m.Assignments {
		a := &m.Assignments[i]
		if len(a.Parents) > MaxParents {
			return fmt.Errorf("%w: %d parents, limit %d", ErrLimit, len(a.Parents), MaxParents)
		}
		if a.Source != (len(a.Parents) == 0) {
			return fmt.Errorf("%w: piece %d: source %v with %d parents", ErrMalformed, a.Index, a.Source, len(a.Parents))
		}
		for _, p := range a.Parents {
			if p.Peer.IsZero() {
				return fmt.Errorf("%w: piece %d: zero parent id", ErrMalformed, a.Index)
			}
		}
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *Schedule) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("schedule: %w", err)
	}
	b = appendHeader(b, TypeSchedule)
	b = append(b, byte(m.State))
	b = appendU32(b, m.RetryMillis)
	b = appendU16(b, uint16(len(m.Assignments)))
	for i := range m.Assignments {
		a := &m.Assignments[i]
		b = appendU32(b, uint32(a.Index))
		var flags byte
		if a.Source {
			flags |= flagSource
		}
		if !a.Digest.IsZero() {
			flags |= flagDigest
		}
		b = append(b, flags)
		if flags&flagDigest != 0 {
			b = append(b, a.Digest[:]...)
		}
		b = append(b, byte(len(a.Parents)))
		for _, p := range a.Parents {
			b = append(b, p.Peer[:]...)
			var err error
			if b, err = appendAddr(b, p.Addr); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

func parseSchedule(b []byte) (Schedule, int, error) {
	d := format.Decoder(b)
	var m Schedule
	m.State = ScheduleState(d.U8())
	m.RetryMillis = d.U32()
	// The smallest assignment is a source fetch without digest: 6 bytes.
	if k := d.Count(2, 0, MaxBatch, 6, "assignments"); k > 0 {
		m.Assignments = make([]Assignment, k)
	}
	for i := range m.Assignments {
		a := &m.Assignments[i]
		a.Index = core.PieceIndex(d.U32())
		flags := d.U8()
		if flags&^(flagSource|flagDigest) != 0 {
			d.Fail(fmt.Errorf("%w: assignment flags %#x", ErrMalformed, flags))
		}
		a.Source = flags&flagSource != 0
		if flags&flagDigest != 0 {
			if a.Digest = d.Digest(); d.Err() == nil && a.Digest.IsZero() {
				d.Fail(fmt.Errorf("%w: zero digest flagged present", ErrMalformed))
			}
		}
		np := int(d.U8())
		if np > MaxParents {
			d.Fail(fmt.Errorf("%w: %d parents, limit %d", ErrLimit, np, MaxParents))
		}
		if np*(16+minAddrLen) > d.Remaining() {
			d.Fail(io.ErrUnexpectedEOF)
		}
		if d.Err() != nil {
			break
		}
		if np > 0 {
			a.Parents = make([]Parent, np)
		}
		for j := range a.Parents {
			a.Parents[j].Peer = d.Peer()
			a.Parents[j].Addr = parseAddr(&d)
		}
	}
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
