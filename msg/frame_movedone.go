// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
)

// A moveDoneFrame ends a move: the single acknowledgement of a move-to, or
// the failure of a move-from. Detail is error text for a non-zero Status.
//
//	payload: move u64 | status u8 | detail
type moveDoneFrame struct {
	Move   uint64
	Status uint8
	Detail []byte
}

func (moveDoneFrame) frameType() uint8 { return frameMoveDone }

// Len returns the encoded length.
func (f moveDoneFrame) Len() int { return 8 + 9 + len(f.Detail) }

// Append appends the encoded frame to b.
func (f moveDoneFrame) Append(b []byte) ([]byte, error) {
	if len(f.Detail) > maxDetail {
		return b, fmt.Errorf("move status detail of %d bytes: %w", len(f.Detail), ErrMessageTooLarge)
	}
	b, err := appendHeader(b, frameMoveDone, 0, 9+len(f.Detail))
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Move)
	b = append(b, f.Status)
	return append(b, f.Detail...), nil
}

// parseMoveDone decodes a move-done frame at the start of b.
func parseMoveDone(b []byte) (moveDoneFrame, int, error) {
	h, p, n, err := parseHeader(b, frameMoveDone)
	if err != nil {
		return moveDoneFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return moveDoneFrame{}, 0, err
	}
	d := fields{p: p}
	f := moveDoneFrame{Move: d.u64(), Status: d.u8()}
	f.Detail = d.rest()
	if d.err != nil {
		return moveDoneFrame{}, 0, d.err
	}
	if len(f.Detail) > maxDetail {
		return moveDoneFrame{}, 0, fmt.Errorf("move status detail of %d bytes: %w", len(f.Detail), ErrMalformed)
	}
	if len(f.Detail) == 0 {
		f.Detail = nil
	}
	return f, n, nil
}
