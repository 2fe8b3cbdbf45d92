// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"io"
)

// moveToHeaderLen is the length of a move-to frame before its bytes.
const moveToHeaderLen = 8 + 40

// A moveToFrame carries bytes to write into the segment of request Seq at
// Off, as part of the move Move that writes Total bytes at Start. The sender
// of the request answers the whole move with one move-done frame.
//
//	payload: seq u64 | move u64 | start u64 | total u64 | off u64 | bytes
type moveToFrame struct {
	Seq, Move    uint64
	Start, Total int64
	Off          int64
	Data         []byte
}

func (moveToFrame) frameType() uint8 { return frameMoveTo }

// Len returns the encoded length.
func (f moveToFrame) Len() int { return moveToHeaderLen + len(f.Data) }

// Append appends the encoded frame to b.
func (f moveToFrame) Append(b []byte) ([]byte, error) {
	b, err := f.appendHead(b, len(f.Data))
	if err != nil {
		return b, err
	}
	return append(b, f.Data...), nil
}

// appendHead appends the header and fixed fields for n bytes sent after it.
func (f moveToFrame) appendHead(b []byte, n int) ([]byte, error) {
	b, err := appendHeader(b, frameMoveTo, 0, 40+n)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = binary.BigEndian.AppendUint64(b, f.Move)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Start))
	b = binary.BigEndian.AppendUint64(b, uint64(f.Total))
	return binary.BigEndian.AppendUint64(b, uint64(f.Off)), nil
}

// parseMoveToHead decodes the fixed fields of a move-to frame from its
// first moveToHeaderLen bytes and returns the number of data bytes.
func parseMoveToHead(b []byte, total int64) (moveToFrame, int64, error) {
	if len(b) < moveToHeaderLen {
		return moveToFrame{}, 0, io.ErrUnexpectedEOF
	}
	d := fields{p: b[8:moveToHeaderLen]}
	f := moveToFrame{Seq: d.u64(), Move: d.u64(), Start: d.i64(), Total: d.i64(), Off: d.i64()}
	return f, total - moveToHeaderLen, d.err
}

// parseMoveTo decodes a move-to frame at the start of b.
func parseMoveTo(b []byte) (moveToFrame, int, error) {
	h, p, n, err := parseHeader(b, frameMoveTo)
	if err != nil {
		return moveToFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return moveToFrame{}, 0, err
	}
	d := fields{p: p}
	f := moveToFrame{Seq: d.u64(), Move: d.u64(), Start: d.i64(), Total: d.i64(), Off: d.i64()}
	f.Data = d.rest()
	if d.err != nil {
		return moveToFrame{}, 0, d.err
	}
	return f, n, nil
}
