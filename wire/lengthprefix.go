// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// LengthPrefix is the built-in [Parser] for protocols whose messages carry
// their own length in a fixed-position unsigned integer field:
//
//	total length = field value + Adjust
//
// The field is Size bytes (1 to 8) at byte Offset, in byte order Order. A
// LengthPrefix is a small value; it is safe for concurrent use. The zero
// value is not valid (Size 0); see [LengthPrefix.Validate].
//
// Examples: pollen frames are {0, 4, BE, +8} ([Frames]), HTTP/2 frames
// {0, 3, BE, +9} ([HTTP2Frames]), gRPC messages {1, 4, BE, +5}
// ([GRPCMessages]), RDS {16, 4, BE, +40} ([RDS]) and Thrift framed transport
// {0, 4, BE, +4}.
type LengthPrefix struct {
	Offset int              // byte offset of the length field
	Size   int              // field size in bytes, 1 to 8
	Order  binary.ByteOrder // nil means big-endian
	Adjust int64            // added to the field value to get the total length
}

// Frames returns the parser for pollen's own frames: a 4-byte big-endian
// payload length at offset 0, plus the [FrameHeaderLen]-byte header.
func Frames() LengthPrefix { return LengthPrefix{Offset: 0, Size: 4, Adjust: FrameHeaderLen} }

// HTTP2Frames returns the parser for HTTP/2 frames (RFC 9113 §4.1): a 3-byte
// big-endian payload length at offset 0, plus the 9-byte frame header. The
// connection preface must have been consumed before the connection is
// attached.
func HTTP2Frames() LengthPrefix { return LengthPrefix{Offset: 0, Size: 3, Adjust: 9} }

// GRPCMessages returns the parser for gRPC length-prefixed messages: a
// 1-byte compressed flag, then a 4-byte big-endian message length, plus the
// 5-byte prefix.
func GRPCMessages() LengthPrefix { return LengthPrefix{Offset: 1, Size: 4, Adjust: 5} }

// RDS returns the parser for RDS over TCP: a 4-byte big-endian payload length
// at offset 16 of the 40-byte header, plus the header.
func RDS() LengthPrefix { return LengthPrefix{Offset: 16, Size: 4, Adjust: 40} }

// errLengthPrefix reports a LengthPrefix that is not valid.
var errLengthPrefix = errors.New("wire: invalid length prefix")

// Validate reports whether p describes a usable parser: Offset ≥ 0, Size 1
// to 8, and Order nil, big-endian or little-endian.
func (p LengthPrefix) Validate() error {
	if p.Offset < 0 || p.Offset > math.MaxInt32 {
		return fmt.Errorf("%w: offset %d", errLengthPrefix, p.Offset)
	}
	if p.Size < 1 || p.Size > 8 {
		return fmt.Errorf("%w: size %d, want 1 to 8", errLengthPrefix, p.Size)
	}
	if p.Order != nil && p.Order != binary.BigEndian && p.Order != binary.LittleEndian {
		// Other implementations (binary.NativeEndian, user types) are
		// classified by probing; they must behave like one of the two.
		b := []byte{1, 2, 3, 4, 5, 6, 7, 8}
		if v := p.Order.Uint64(b); v != 0x0102030405060708 && v != 0x0807060504030201 {
			return fmt.Errorf("%w: byte order %v is neither big- nor little-endian", errLengthPrefix, p.Order)
		}
	}
	return nil
}

// littleEndian reports whether p's field is little-endian.
func (p LengthPrefix) littleEndian() bool {
	switch p.Order {
	case nil, binary.BigEndian:
		return false
	case binary.LittleEndian:
		return true
	}
	b := [2]byte{1, 0}
	return p.Order.Uint16(b[:]) == 1
}

// Parse implements [Parser]. It returns 0 until the length field is
// complete, then the message's total length. A total length that would not
// even cover the length field, or that overflows int, is [ErrBadLength].
func (p LengthPrefix) Parse(head []byte) (int, error) {
	if p.Size < 1 || p.Size > 8 || p.Offset < 0 {
		return 0, fmt.Errorf("%w: offset %d size %d", errLengthPrefix, p.Offset, p.Size)
	}
	end := p.Offset + p.Size
	if len(head) < end {
		return 0, nil
	}
	field := head[p.Offset:end]
	var v uint64
	if p.littleEndian() {
		for i := len(field) - 1; i >= 0; i-- {
			v = v<<8 | uint64(field[i])
		}
	} else {
		for _, b := range field {
			v = v<<8 | uint64(b)
		}
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: length field %d", ErrBadLength, v)
	}
	total := int64(v) + p.Adjust
	if (p.Adjust > 0 && total < int64(v)) || total > math.MaxInt || total < int64(end) {
		return 0, fmt.Errorf("%w: length field %d%+d", ErrBadLength, v, p.Adjust)
	}
	return int(total), nil
}
