// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"encoding/binary"
	"fmt"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

// Offer is what the pusher sends each receiver, one per file: the file's
// name and layout, its whole-file digest (and optionally one digest per
// piece), the token, and where the task's swarm is: the pusher's
// scheduler, where the receiver joins the task, and the task's source,
// the URL the pusher serves the file on (the swarm's origin: the
// scheduler sends a receiver there only for pieces no other receiver
// has, about once per piece). The receiver answers with a [Result] once
// the file is placed or has failed.
//
//	Offer: task [32] | size u64 | pieceSize u32 | digest [32] |
//	       nameLen u16 | name | tokenLen u8 | token |
//	       schedLen u8 | scheduler | sourceLen u16 | source |
//	       count u32 | pieceDigest [32]*count
type Offer struct {
	Task      core.TaskID   // the task the pusher seeds; never empty
	Name      string        // relative name under the receiver's directory; 1 to MaxNameLen bytes
	Layout    core.Layout   // size and piece size; must be valid
	Digest    core.Digest   // SHA-256 of the whole file; never zero
	Pieces    []core.Digest // empty, or one per piece (at most MaxPieceDigests)
	Token     string        // at most MaxTokenLen bytes
	Scheduler string        // host:port of the pusher's scheduler; at most MaxAddrLen bytes
	Source    string        // URL the pusher serves the file on (http://host:port/...); at most MaxURLLen bytes
}

func (*Offer) message() {}

// Type returns [TypeOffer].
func (*Offer) Type() Type { return TypeOffer }

// Len returns the encoded length.
func (m *Offer) Len() int {
	return HeaderLen + codec.TaskIDLen + 8 + 4 + 32 + 2 + len(m.Name) + 1 + len(m.Token) +
		1 + len(m.Scheduler) + 2 + len(m.Source) + 4 + 32*len(m.Pieces)
}

// validate checks the fields both codecs depend on.
func (m *Offer) validate() error {
	switch {
	case !m.Task.Valid():
		return fmt.Errorf("%w: task id %q", ErrMalformed, m.Task)
	case m.Name == "":
		return fmt.Errorf("%w: empty name", ErrMalformed)
	case len(m.Name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d bytes, limit %d", ErrLimit, len(m.Name), MaxNameLen)
	case m.Digest.IsZero():
		return fmt.Errorf("%w: zero digest", ErrMalformed)
	case len(m.Pieces) > MaxPieceDigests:
		return fmt.Errorf("%w: %d piece digests, limit %d", ErrLimit, len(m.Pieces), MaxPieceDigests)
	}
	if err := m.Layout.Validate(); err != nil || m.Layout.PieceSize > 1<<32-1 {
		return fmt.Errorf("%w: layout %+v", ErrLimit, m.Layout)
	}
	if k := len(m.Pieces); k != 0 && k != m.Layout.Pieces() {
		return fmt.Errorf("%w: %d piece digests for %d pieces", ErrMalformed, k, m.Layout.Pieces())
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *Offer) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("offer: %w", err)
	}
	b0 := b
	b, err := appendHeader(b, TypeOffer, m.Task)
	if err != nil {
		return b0, err
	}
	b = binary.BigEndian.AppendUint64(b, uint64(m.Layout.Size))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Layout.PieceSize))
	b = append(b, m.Digest[:]...)
	for _, s := range []struct {
		width, limit int
		v, what      string
	}{
		{2, MaxNameLen, m.Name, "name"},
		{1, MaxTokenLen, m.Token, "token"},
		{1, MaxAddrLen, m.Scheduler, "scheduler address"},
		{2, MaxURLLen, m.Source, "source URL"},
	} {
		if b, err = format.AppendStr(b, s.width, s.v, s.limit, s.what); err != nil {
			return b0, err
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Pieces)))
	for _, d := range m.Pieces {
		b = append(b, d[:]...)
	}
	return b, nil
}

func parseOffer(b []byte) (Offer, int, error) {
	d := format.Decoder(b)
	var m Offer
	m.Task = d.Task()
	m.Layout.Size = int64(d.U64())
	m.Layout.PieceSize = int64(d.U32())
	m.Digest = d.Digest()
	m.Name = d.Str(2, MaxNameLen, "name")
	m.Token = d.Str(1, MaxTokenLen, "token")
	m.Scheduler = d.Str(1, MaxAddrLen, "scheduler address")
	m.Source = d.Str(2, MaxURLLen, "source URL")
	if k := d.Count(4, 0, MaxPieceDigests, len(core.Digest{}), "piece digests"); k > 0 {
		m.Pieces = make([]core.Digest, k)
		for i := range m.Pieces {
			m.Pieces[i] = d.Digest()
		}
	}
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
