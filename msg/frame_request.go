// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
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
	switch {
	case !f.HasSeg && (f.Access != 0 || f.SegLen != 0 || len(f.Carry) != 0):
		return fmt.Errorf("request without segment but with grant fields: %w", ErrMalformed)
	case !f.Access.valid() || f.SegLen < 0:
		return fmt.Errorf("request grant %v len %d: %w", f.Access, f.SegLen, ErrMalformed)
	case len(f.Carry) != 0 && (f.Access&Read == 0 || int64(len(f.Carry)) > f.SegLen):
		return fmt.Errorf("request carries %d bytes of a %v grant of %d: %w", len(f.Carry), f.Access, f.SegLen, ErrMalformed)
	case f.Stable && len(f.Carry) == 0:
		return fmt.Errorf("stable request without a carry: %w", ErrMalformed)
	case uint64(len(f.Msg)) > 1<<32-1:
		return fmt.Errorf("request message of %d bytes: %w", len(f.Msg), ErrMessageTooLarge)
	}
	return nil
}

// parseRequest decodes a request frame at the start of b.
func parseRequest(b []byte) (requestFrame, int, error) {
	h, p, n, err := parseHeader(b, frameRequest)
	if err != nil {
		return requestFrame{}, 0, err
	}
	if err := checkFlags(h, requestRetransmit|requestSegment|requestStable); err != nil {
		return requestFrame{}, 0, err
	}
	f := requestFrame{
		Retransmit: h.Flags&requestRetransmit != 0,
		HasSeg:     h.Flags&requestSegment != 0,
		Stable:     h.Flags&requestStable != 0,
	}
	d := fields{p: p}
	f.Seq = d.u64()
	f.Ack = d.u64()
	mlen := d.u32()
	if f.HasSeg {
		f.Access = Access(d.u8())
		f.SegLen = d.i64()
	}
	f.Msg = d.bytes(uint64(mlen))
	f.Carry = d.rest()
	if d.err != nil {
		return requestFrame{}, 0, d.err
	}
	if len(f.Carry) == 0 {
		f.Carry = nil
	}
	if err := f.check(); err != nil {
		return requestFrame{}, 0, err
	}
	return f, n, nil
}
