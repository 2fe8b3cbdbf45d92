// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import "encoding/binary"

// A moveFromFrame asks the sender of request Seq for N bytes of its segment
// at Off. The answer is data frames for Move covering [Off, Off+N), or a
// move-done frame with an error status.
//
//	payload: seq u64 | move u64 | off u64 | n u64
type moveFromFrame struct {
	Seq, Move uint64
	Off, N    int64
}

func (moveFromFrame) frameType() uint8 { return frameMoveFrom }

// Len returns the encoded length.
func (moveFromFrame) Len() int { return 8 + 32 }

// Append appends the encoded frame to b.
func (f moveFromFrame) Append(b []byte) ([]byte, error) {
	b, err := appendHeader(b, frameMoveFrom, 0, 32)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = binary.BigEndian.AppendUint64(b, f.Move)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Off))
	return binary.BigEndian.AppendUint64(b, uint64(f.N)), nil
}

// parseMoveFrom decodes a move-from frame at the start of b.
func parseMoveFrom(b []byte) (moveFromFrame, int, error) {
	h, p, n, err := parseHeader(b, frameMoveFrom)
	if err != nil {
		return moveFromFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return moveFromFrame{}, 0, err
	}
	d := fields{p: p}
	f := moveFromFrame{Seq: d.u64(), Move: d.u64(), Off: d.i64(), N: d.i64()}
	if err := d.done(); err != nil {
		return moveFromFrame{}, 0, err
	}
	return f, n, nil
}
