// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"encoding/binary"
	"io"
)

// Protocol flow. pollen peers exchange frames over TCP in both directions at
// once; there is no handshake at this layer. Each frame is one wire message:
// the header below followed by Length payload bytes. Frames are independent;
// their order is kept only within one connection, and a mux spreads frames over
// its connections. The frame Type and Flags belong to the layer above (msg);
// wire only cuts the stream with [Frames]. A receiver that meets a frame whose
// Version it does not speak should abort the connection. See
// docs/wire-protocol.md for the complete description.

// ProtocolVersion is the frame format version sent in [FrameHeader.Version].
//
// Changelog:
//
//	1 (2026-11): initial format: 8-byte header, big-endian.
const ProtocolVersion = 1

// FrameHeaderLen is the length of a pollen frame header in bytes.
//
//	0       4       5       6       8
//	+-------+-------+-------+-------+----------------+
//	|Length |Version| Type  | Flags | payload ...    |
//	|u32 BE |  u8   |  u8   |u16 BE | Length bytes   |
//	+-------+-------+-------+-------+----------------+
const FrameHeaderLen = 8

// A FrameHeader is the fixed 8-byte header of a pollen frame (layout at
// [FrameHeaderLen]). The zero value is a valid header of an empty frame of
// version 0.
type FrameHeader struct {
	Length  uint32 // bytes 0-3, big-endian: payload bytes after the header
	Version uint8  // byte 4: ProtocolVersion
	Type    uint8  // byte 5: owner-defined (msg uses it)
	Flags   uint16 // bytes 6-7, big-endian: owner-defined
}

// Len returns the encoded length of h, [FrameHeaderLen].
func (h FrameHeader) Len() int { return FrameHeaderLen }

// Append appends the encoded header to b and returns the extended slice.
func (h FrameHeader) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.Length)
	b = append(b, h.Version, h.Type)
	return binary.BigEndian.AppendUint16(b, h.Flags)
}

// ParseFrameHeader decodes the header at the start of b and returns it with
// the number of bytes consumed ([FrameHeaderLen]). A b shorter than a header
// is [io.ErrUnexpectedEOF]. It does not check Version; the layer that owns
// the frame decides what to accept.
func ParseFrameHeader(b []byte) (FrameHeader, int, error) {
	if len(b) < FrameHeaderLen {
		return FrameHeader{}, 0, io.ErrUnexpectedEOF
	}
	return FrameHeader{
		Length:  binary.BigEndian.Uint32(b),
		Version: b[4],
		Type:    b[5],
		Flags:   binary.BigEndian.Uint16(b[6:]),
	}, FrameHeaderLen, nil
}
