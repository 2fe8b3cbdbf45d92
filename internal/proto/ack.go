// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

// Ack is the empty reply to a request that succeeded and carries no data.
//
//	Ack: (no body)
type Ack struct{}

func (*Ack) message() {}

// Type returns [TypeAck].
func (*Ack) Type() Type { return TypeAck }

// Len returns the encoded length.
func (*Ack) Len() int { return HeaderLen }

// Append appends the encoding of m to b.
func (*Ack) Append(b []byte) ([]byte, error) { return appendHeader(b, TypeAck), nil }

func parseAck([]byte) (Ack, int, error) { return Ack{}, 0, nil }
