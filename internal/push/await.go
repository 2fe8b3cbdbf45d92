// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

// Await asks a receiver for its verdict on a file it accepted: the
// receiver answers an [Offer] at once with a [Result] of [CodeAccepted]
// and fetches the file; the pusher then sends Await, which the receiver
// answers with the final Result once the file is placed or has failed.
// The split keeps the long wait off the offer: a msg Send retransmits its
// whole request every retransmission interval until the reply, and an
// offer carries up to MaxPieceDigests digests (512 KiB), which the
// pusher's link would send again every second for every receiver. An
// Await is a few dozen bytes.
//
//	Await: task [32] | nameLen u16 | name | tokenLen u8 | token
type Await struct {
	Task  core.TaskID // the offer's task; never empty
	Name  string      // the offer's name; 1 to MaxNameLen bytes
	Token string      // at most MaxTokenLen bytes
}

func (*Await) message() {}

// Type returns [TypeAwait].
func (*Await) Type() Type { return TypeAwait }

// Len returns the encoded length.
func (m *Await) Len() int {
	return HeaderLen + codec.TaskIDLen + 2 + len(m.Name) + 1 + len(m.Token)
}

func (m *Await) validate() error {
	switch {
	case !m.Task.Valid():
		return fmt.Errorf("%w: task id %q", ErrMalformed, m.Task)
	case m.Name == "":
		return fmt.Errorf("%w: empty name", ErrMalformed)
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *Await) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("await: %w", err)
	}
	b0 := b
	b, err := appendHeader(b, TypeAwait, m.Task)
	if err != nil {
		return b0, err
	}
	if b, err = format.AppendStr(b, 2, m.Name, MaxNameLen, "name"); err != nil {
		return b0, err
	}
	if b, err = format.AppendStr(b, 1, m.Token, MaxTokenLen, "token"); err != nil {
		return b0, err
	}
	return b, nil
}

func parseAwait(b []byte) (Await, int, error) {
	d := format.Decoder(b)
	var m Await
	m.Task = d.Task()
	m.Name = d.Str(2, MaxNameLen, "name")
	m.Token = d.Str(1, MaxTokenLen, "token")
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
