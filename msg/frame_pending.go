// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import "encoding/binary"

// A pendingFrame answers a retransmitted request that is still being
// served (or queued): the sender keeps waiting instead of failing.
//
//	payload: seq u64
type pendingFrame struct {
	Seq uint64
}

func (pendingFrame) frameType() uint8 { return framePending }

// Len returns the encoded length.
func (pendingFrame) Len() int { return 8 + 8 }

// Append appends the encoded frame to b.
func (f pendingFrame) Append(b []byte) ([]byte, error) {
	b, err := appendHeader(b, framePending, 0, 8)
	if err != nil {
		return b, err
	}
	return binary.BigEndian.AppendUint64(b, f.Seq), nil
}

// parsePending decodes a pending frame at the start of b.
func parsePending(b []byte) (pendingFrame, int, error) {
	h, p, n, err := parseHeader(b, framePending)
	if err != nil {
		return pendingFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return pendingFrame{}, 0, err
	}
	d := fields{p: p}
	f := pendingFrame{Seq: d.u64()}
	if err := d.done(); err != nil {
		return pendingFrame{}, 0, err
	}
	return f, n, nil
}
