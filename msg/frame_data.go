// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"io"
)

// dataHeaderLen is the length of a data frame before its bytes.
const dataHeaderLen = 8 + 16

// A dataFrame carries bytes of the segment at Off for the move-from Move.
// Large data frames are streamed by wire and read straight into the
// destination, so the payload is usually not in memory as a whole.
//
//	payload: move u64 | off u64 | bytes
type dataFrame struct {
	Move uint64
	Off  int64
	Data []byte
}

func (dataFrame) frameType() uint8 { return frameData }

// Len returns the encoded length.
func (f dataFrame) Len() int { return dataHeaderLen + len(f.Data) }

// Append appends the encoded frame to b.
func (f dataFrame) Append(b []byte) ([]byte, error) {
	b, err := f.appendHead(b, len(f.Data))
	if err != nil {
		return b, err
	}
	return append(b, f.Data...), nil
}

// appendHead appends the frame's header and fixed fields for n data bytes
// that the caller sends after it (from a file, with sendfile).
func (f dataFrame) appendHead(b []byte, n int) ([]byte, error) {
	b, err := appendHeader(b, frameData, 0, 16+n)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Move)
	return binary.BigEndian.AppendUint64(b, uint64(f.Off)), nil
}

// parseDataHead decodes the header and fixed fields of a data frame from
// its first dataHeaderLen bytes and returns the number of data bytes.
func parseDataHead(b []byte, total int64) (dataFrame, int64, error) {
	if len(b) < dataHeaderLen {
		return dataFrame{}, 0, io.ErrUnexpectedEOF
	}
	d := fields{p: b[8:dataHeaderLen]}
	f := dataFrame{Move: d.u64(), Off: d.i64()}
	return f, total - dataHeaderLen, d.err
}

// parseData decodes a data frame at the start of b.
func parseData(b []byte) (dataFrame, int, error) {
	h, p, n, err := parseHeader(b, frameData)
	if err != nil {
		return dataFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return dataFrame{}, 0, err
	}
	d := fields{p: p}
	f := dataFrame{Move: d.u64(), Off: d.i64()}
	f.Data = d.rest()
	if d.err != nil {
		return dataFrame{}, 0, d.err
	}
	return f, n, nil
}
