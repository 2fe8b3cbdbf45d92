// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"encoding/binary"
	"errors"
	"io"
)

// HeaderVersion is the only streaming header version this package speaks.
//
// Changelog:
//
//	1: first version.
const HeaderVersion = 1

// HeaderLen is the encoded size of a [Header].
const HeaderLen = 12

// PayloadSize is the payload carried by every streaming datagram but the
// last: 1400 bytes keep header, UDP and IP inside a 1500-byte MTU.
const PayloadSize = 1400

// MaxPayload is the largest payload a [Header] may announce: a UDP datagram
// over IPv4 carries at most 65507 bytes.
const MaxPayload = 65507 - HeaderLen

// FlagEnd marks the last datagram of a stream.
const FlagEnd = 1 << 0

// Errors from [ParseHeader] and [Header.Append].
var (
	ErrHeaderVersion = errors.New("datapath: unknown header version")
	ErrPayloadLen    = errors.New("datapath: payload length too large")
)

// Header is the 12-byte header in front of each streaming datagram, the
// same size as the RTP header the assessment used. Byte layout, big endian:
//
//	0      1      2      4         8          12
//	+------+------+------+---------+----------+
//	| ver  | flags| len  | seq     | stream   |
//	| 1 B  | 1 B  | 2 B  | 4 B     | 4 B      |
//	+------+------+------+---------+----------+
//
// ver is [HeaderVersion]; len is the payload bytes after the header; seq
// counts datagrams from the start of the stream, so a receiver places the
// payload at seq·[PayloadSize]; stream tells concurrent streams apart.
// The zero value is a valid header for an empty first datagram.
type Header struct {
	Flags      uint8
	PayloadLen uint16
	Seq        uint32
	Stream     uint32
}

// Len returns the encoded size, [HeaderLen].
func (h *Header) Len() int { return HeaderLen }

// Append appends the encoded header to b.
func (h *Header) Append(b []byte) ([]byte, error) {
	if int(h.PayloadLen) > MaxPayload {
		return b, ErrPayloadLen
	}
	b = append(b, HeaderVersion, h.Flags)
	b = binary.BigEndian.AppendUint16(b, h.PayloadLen)
	b = binary.BigEndian.AppendUint32(b, h.Seq)
	return binary.BigEndian.AppendUint32(b, h.Stream), nil
}

// put writes the header into b[:HeaderLen] without checks; the send paths
// only build headers they sized themselves.
func (h *Header) put(b []byte) {
	_ = b[HeaderLen-1]
	b[0], b[1] = HeaderVersion, h.Flags
	binary.BigEndian.PutUint16(b[2:], h.PayloadLen)
	binary.BigEndian.PutUint32(b[4:], h.Seq)
	binary.BigEndian.PutUint32(b[8:], h.Stream)
}

// ParseHeader decodes the header at the start of b and returns it with the
// number of bytes consumed. A b shorter than [HeaderLen] gives
// io.ErrUnexpectedEOF.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < HeaderLen {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	if b[0] != HeaderVersion {
		return Header{}, 0, ErrHeaderVersion
	}
	h := Header{
		Flags:      b[1],
		PayloadLen: binary.BigEndian.Uint16(b[2:]),
		Seq:        binary.BigEndian.Uint32(b[4:]),
		Stream:     binary.BigEndian.Uint32(b[8:]),
	}
	if int(h.PayloadLen) > MaxPayload {
		return Header{}, 0, ErrPayloadLen
	}
	return h, HeaderLen, nil
}
