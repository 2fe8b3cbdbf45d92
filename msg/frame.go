// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/pollen-dev/pollen/wire"
)

// Protocol flow (docs/msg-protocol.md has the full description). A node that
// sends to a remote address dials it and opens a session: it writes a hello
// frame on every new connection, then attaches the connection to the
// session's wire.Mux. Over a session, in both directions:
//
//	sender                              receiver
//	request(seq, ack, msg[, grant, carry]) ->
//	                                    <- pending(seq)          (still running)
//	                                    <- move-from(seq, move, off, n)
//	data(move, off, bytes)...         ->
//	                                    <- move-to(seq, move, start, total, off, bytes)...
//	move-done(move, status)           ->
//	                                    <- reply(seq, status, msg[, off, data])
//
// A retransmitted request (same seq) is answered from the receiver's reply
// cache or with pending; it never runs twice.

// ProtocolVersion is msg's protocol version, sent in the hello frame. Frames
// themselves carry wire.ProtocolVersion in their header.
//
// Changelog:
//
//	1 (2026-11): initial protocol.
//	2 (2026-11): request flag bit2 (stable carry): a memory segment's carry
//	   stands for those bytes of the segment, and MoveFrom does not move
//	   them again. A version 1 node refuses such requests as malformed.
//	3 (2026-11): a stable carry may be longer than the receiver's
//	   MaxCarry (message and carry at most MaxFrameData): a receiver
//	   leaves one too long to be buffered on its connection for MoveFrom
//	   to read. A version 2 node answers such requests "message too
//	   large".
//	4 (2026-11): a reply's data (ReplyWithSegment) may be longer than the
//	   sender's MaxCarry, up to MaxFrameData bytes behind a message of at
//	   most MaxFrameData: the sender reads one too long to be buffered
//	   straight from its connection into its segment. A receiver sends
//	   such replies only to version 4 senders; to older ones it moves the
//	   data with move-to frames first.
const ProtocolVersion = 4

// Frame types, carried in wire.FrameHeader.Type. Payload layouts are beside
// each frame's type; all integers are big-endian.
const (
	frameHello    uint8 = 1 // magic "PMSG", version u8, node u64, session u64, addrLen u16, addr
	frameRequest  uint8 = 2 // seq u64, ack u64, msgLen u32, [access u8, segLen u64], msg, carry
	frameReply    uint8 = 3 // seq u64, status u8, msgLen u32, [segOff u64], msg, data
	framePending  uint8 = 4 // seq u64
	frameMoveFrom uint8 = 5 // seq u64, move u64, off u64, n u64
	frameData     uint8 = 6 // move u64, off u64, bytes
	frameMoveTo   uint8 = 7 // seq u64, move u64, start u64, total u64, off u64, bytes
	frameMoveDone uint8 = 8 // move u64, status u8, detail
)

// maxFrameOverhead bounds the header and fixed fields of any frame.
const maxFrameOverhead = 64

// A frame is one decoded msg frame. The concrete types are the frame types
// in this package's frame_*.go files; no other type implements it.
type frame interface {
	// Len returns the encoded length, header included.
	Len() int
	// Append appends the encoded frame to b.
	Append(b []byte) ([]byte, error)
	frameType() uint8
}

// appendHeader appends a frame header for a payload of n bytes.
func appendHeader(b []byte, typ uint8, flags uint16, n int) ([]byte, error) {
	if n < 0 || int64(n) > math.MaxUint32 {
		return b, fmt.Errorf("frame type %d with %d payload bytes: %w", typ, n, ErrMessageTooLarge)
	}
	h := wire.FrameHeader{Length: uint32(n), Version: wire.ProtocolVersion, Type: typ, Flags: flags}
	return h.Append(b), nil
}

// parseHeader checks the header at the start of b for a frame of type typ
// and returns it, the payload and the frame's total length. A b shorter
// than the frame is io.ErrUnexpectedEOF.
func parseHeader(b []byte, typ uint8) (wire.FrameHeader, []byte, int, error) {
	h, n, err := wire.ParseFrameHeader(b)
	if err != nil {
		return h, nil, 0, err
	}
	if h.Version != wire.ProtocolVersion {
		return h, nil, 0, fmt.Errorf("frame version %d: %w", h.Version, ErrMalformed)
	}
	if h.Type != typ {
		return h, nil, 0, fmt.Errorf("frame type %d, want %d: %w", h.Type, typ, ErrMalformed)
	}
	total := int64(n) + int64(h.Length)
	if int64(len(b)) < total {
		return h, nil, 0, io.ErrUnexpectedEOF
	}
	return h, b[n:total], int(total), nil
}

// frameTypeOf returns the type of the frame at the start of b.
func frameTypeOf(b []byte) (uint8, error) {
	h, _, err := wire.ParseFrameHeader(b)
	if err != nil {
		return 0, err
	}
	if h.Version != wire.ProtocolVersion {
		return 0, fmt.Errorf("frame version %d: %w", h.Version, ErrMalformed)
	}
	return h.Type, nil
}

// parseFrame decodes the frame at the start of b. Slices in the result
// alias b.
func parseFrame(b []byte) (frame, int, error) {
	typ, err := frameTypeOf(b)
	if err != nil {
		return nil, 0, err
	}
	switch typ {
	case frameHello:
		return wrap(parseHello(b))
	case frameRequest:
		return wrap(parseRequest(b))
	case frameReply:
		return wrap(parseReply(b))
	case framePending:
		return wrap(parsePending(b))
	case frameMoveFrom:
		return wrap(parseMoveFrom(b))
	case frameData:
		return wrap(parseData(b))
	case frameMoveTo:
		return wrap(parseMoveTo(b))
	case frameMoveDone:
		return wrap(parseMoveDone(b))
	}
	return nil, 0, fmt.Errorf("frame type %d: %w", typ, ErrMalformed)
}

func wrap[F frame](f F, n int, err error) (frame, int, error) {
	if err != nil {
		return nil, 0, err
	}
	return f, n, nil
}

// fields decodes fixed-size fields from a frame payload. Running out of
// payload is ErrMalformed: the header already said how long the frame is.
type fields struct {
	p   []byte
	err error
}

func (f *fields) need(n int) bool {
	if f.err != nil {
		return false
	}
	if len(f.p) < n {
		f.err = fmt.Errorf("payload short by %d bytes: %w", n-len(f.p), ErrMalformed)
		return false
	}
	return true
}

func (f *fields) u8() uint8 {
	if !f.need(1) {
		return 0
	}
	v := f.p[0]
	f.p = f.p[1:]
	return v
}

func (f *fields) u16() uint16 {
	if !f.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(f.p)
	f.p = f.p[2:]
	return v
}

func (f *fields) u32() uint32 {
	if !f.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(f.p)
	f.p = f.p[4:]
	return v
}

func (f *fields) u64() uint64 {
	if !f.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(f.p)
	f.p = f.p[8:]
	return v
}

// i64 decodes a u64 that must fit an int64 (offsets and lengths).
func (f *fields) i64() int64 {
	v := f.u64()
	if v > math.MaxInt64 && f.err == nil {
		f.err = fmt.Errorf("offset %d: %w", v, ErrMalformed)
	}
	return int64(v)
}

func (f *fields) bytes(n uint64) []byte {
	if f.err != nil {
		return nil
	}
	if uint64(len(f.p)) < n {
		f.err = fmt.Errorf("field of %d bytes in %d: %w", n, len(f.p), ErrMalformed)
		return nil
	}
	v := f.p[:n:n]
	f.p = f.p[n:]
	return v
}

// rest returns the remaining payload.
func (f *fields) rest() []byte {
	v := f.p
	f.p = nil
	return v
}

// done returns the decoding error, or ErrMalformed when bytes are left over.
func (f *fields) done() error {
	if f.err == nil && len(f.p) != 0 {
		f.err = fmt.Errorf("%d trailing payload bytes: %w", len(f.p), ErrMalformed)
	}
	return f.err
}

// checkFlags rejects flag bits outside allowed, so that decoding is
// canonical (decode then encode gives the same bytes).
func checkFlags(h wire.FrameHeader, allowed uint16) error {
	if h.Flags&^allowed != 0 {
		return fmt.Errorf("frame type %d flags %#x: %w", h.Type, h.Flags, ErrMalformed)
	}
	return nil
}
