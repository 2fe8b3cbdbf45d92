// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/wire"
)

// Request frame flags (wire.FrameHeader.Flags).
const (
	requestRetransmit uint16 = 1 << 0 // a retransmission of seq
	requestSegment    uint16 = 1 << 1 // a segment grant follows msgLen
	requestStable     uint16 = 1 << 2 // the carry stays the segment's bytes until the reply (memory)
)

// A requestFrame carries one Send. With a segment grant that includes Read,
// Carry holds the segment's first bytes (at most segLen).
//
//	payload: seq u64 | ack u64 | msgLen u32 | [access u8 | segLen u64] | msg | carry
//
// ack: every request of the session with a sequence number below ack has
// completed at the sender, so the receiver may forget it. Stable (protocol
// version 2) says the segment is memory that cannot change while the Send
// waits, so the receiver may take the carried bytes in place of moving them
// again (MoveFrom); it needs a carry.
type requestFrame struct {
	Retransmit bool
	Seq, Ack   uint64
	Msg        []byte
	HasSeg     bool
	Access     Access
	SegLen     int64
	Carry      []byte
	Stable     bool
}

func (requestFrame) frameType() uint8 { return frameRequest }

func (f requestFrame) payloadLen() int {
	n := 8 + 8 + 4 + len(f.Msg) + len(f.Carry)
	if f.HasSeg {
		n += 1 + 8
	}
	return n
}

// Len returns the encoded length.
func (f requestFrame) Len() int { return 8 + f.payloadLen() }

// Append appends the encoded frame to b.
func (f requestFrame) Append(b []byte) ([]byte, error) {
	b, err := f.appendNoCarry(b)
	if err != nil {
		return b, err
	}
	return append(b, f.Carry...), nil
}

// appendNoCarry appends the encoded frame without its carry, which the caller
// sends right after it (a vectored write from the segment in place).
func (f requestFrame) appendNoCarry(b []byte) ([]byte, error) {
	if err := f.check(); err != nil {
		return b, err
	}
	var flags uint16
	if f.Retransmit {
		flags |= requestRetransmit
	}
	if f.HasSeg {
		flags |= requestSegment
	}
	if f.Stable {
		flags |= requestStable
	}
	b, err := appendHeader(b, frameRequest, flags, f.payloadLen())
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = binary.BigEndian.AppendUint64(b, f.Ack)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Msg)))
	if f.HasSeg {
		b = append(b, byte(f.Access))
		b = binary.BigEndian.AppendUint64(b, uint64(f.SegLen))
	}
	return append(b, f.Msg...), nil
}

// check enforces the invariants parseRequest enforces.
func (f requestFrame) check() error {
	return f.checkLens(int64(len(f.Msg)), int64(len(f.Carry)))
}

// checkLens is check for a frame whose message and carry are msgLen and
// carryLen bytes long (they may still be on the connection).
func (f requestFrame) checkLens(msgLen, carryLen int64) error {
	switch {
	case !f.HasSeg && (f.Access != 0 || f.SegLen != 0 || carryLen != 0):
		return fmt.Errorf("request without segment but with grant fields: %w", ErrMalformed)
	case !f.Access.valid() || f.SegLen < 0:
		return fmt.Errorf("request grant %v len %d: %w", f.Access, f.SegLen, ErrMalformed)
	case carryLen != 0 && (f.Access&Read == 0 || carryLen > f.SegLen):
		return fmt.Errorf("request carries %d bytes of a %v grant of %d: %w", carryLen, f.Access, f.SegLen, ErrMalformed)
	case f.Stable && carryLen == 0:
		return fmt.Errorf("stable request without a carry: %w", ErrMalformed)
	case msgLen > 1<<32-1:
		return fmt.Errorf("request message of %d bytes: %w", msgLen, ErrMessageTooLarge)
	}
	return nil
}

// Lengths of a request frame before its message: header, seq, ack and
// msgLen, and with the segment flag access and segLen.
const (
	requestFixedLen    = 8 + 8 + 8 + 4
	requestSegFixedLen = requestFixedLen + 1 + 8
)

// requestFixedLenOf returns the length of the fixed part of the request
// frame whose header is at the start of b (at least wire.FrameHeaderLen
// bytes).
func requestFixedLenOf(b []byte) int {
	h, _, err := wire.ParseFrameHeader(b)
	if err == nil && h.Flags&requestSegment != 0 {
		return requestSegFixedLen
	}
	return requestFixedLen
}

// parseRequestHead decodes the fixed part of a request frame of total bytes
// (header included) whose message and carry are still to be read: a
// streamed request. b holds at least the fixed part. It returns the frame
// without Msg and Carry, the length of the fixed part and the lengths of
// the message and of the carry that follow it, under the checks of
// parseRequest.
func parseRequestHead(b []byte, total int64) (requestFrame, int, int64, int64, error) {
	h, n, err := wire.ParseFrameHeader(b)
	if err != nil {
		return requestFrame{}, 0, 0, 0, err
	}
	if h.Version != wire.ProtocolVersion || h.Type != frameRequest {
		return requestFrame{}, 0, 0, 0, fmt.Errorf("frame version %d type %d: %w", h.Version, h.Type, ErrMalformed)
	}
	if int64(n)+int64(h.Length) != total {
		return requestFrame{}, 0, 0, 0, fmt.Errorf("request of %d bytes in a message of %d: %w", int64(n)+int64(h.Length), total, ErrMalformed)
	}
	if err := checkFlags(h, requestRetransmit|requestSegment|requestStable); err != nil {
		return requestFrame{}, 0, 0, 0, err
	}
	fixed := requestFixedLen
	if h.Flags&requestSegment != 0 {
		fixed = requestSegFixedLen
	}
	if int64(fixed) > total {
		return requestFrame{}, 0, 0, 0, fmt.Errorf("request of %d bytes: %w", total, ErrMalformed)
	}
	if len(b) < fixed {
		return requestFrame{}, 0, 0, 0, io.ErrUnexpectedEOF
	}
	f := requestFrame{
		Retransmit: h.Flags&requestRetransmit != 0,
		HasSeg:     h.Flags&requestSegment != 0,
		Stable:     h.Flags&requestStable != 0,
	}
	d := fields{p: b[n:fixed]}
	f.Seq = d.u64()
	f.Ack = d.u64()
	mlen := int64(d.u32())
	if f.HasSeg {
		f.Access = Access(d.u8())
		f.SegLen = d.i64()
	}
	if d.err != nil {
		return requestFrame{}, 0, 0, 0, d.err
	}
	if mlen > total-int64(fixed) {
		return requestFrame{}, 0, 0, 0, fmt.Errorf("request message of %d bytes in a frame of %d: %w", mlen, total, ErrMalformed)
	}
	clen := total - int64(fixed) - mlen
	if err := f.checkLens(mlen, clen); err != nil {
		return requestFrame{}, 0, 0, 0, err
	}
	return f, fixed, mlen, clen, nil
}

// parseRequest decodes a request frame at the start of b: its fixed part
// as parseRequestHead does, then the message and the carry in place.
func parseRequest(b []byte) (requestFrame, int, error) {
	_, _, n, err := parseHeader(b, frameRequest)
	if err != nil {
		return requestFrame{}, 0, err
	}
	f, fixed, mlen, _, err := parseRequestHead(b[:n], int64(n))
	if err != nil {
		return requestFrame{}, 0, err
	}
	m := fixed + int(mlen)
	f.Msg = b[fixed:m:m]
	if carry := b[m:n]; len(carry) > 0 {
		f.Carry = carry
	}
	return f, n, nil
}
