// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/wire"
)

// replyData is the reply frame flag saying segment data follows the message.
const replyData uint16 = 1 << 0

// Lengths of a reply frame before its message: without and with the data
// flag (which adds segOff).
const (
	replyFixedLen     = 8 + 8 + 1 + 4
	replyDataFixedLen = replyFixedLen + 8
)

// A replyFrame answers the request seq. A non-zero Status reports a failure;
// Msg then holds the receiver's error text. With HasData, Data is to be
// written into the sender's segment at SegOff (ReplyWithSegment).
//
//	payload: seq u64 | status u8 | msgLen u32 | [segOff u64] | msg | data
type replyFrame struct {
	Seq     uint64
	Status  uint8
	Msg     []byte
	HasData bool
	SegOff  int64
	Data    []byte
}

func (replyFrame) frameType() uint8 { return frameReply }

// payloadLen is the payload's length with n data bytes.
func (f replyFrame) payloadLen(n int64) int64 {
	l := int64(replyFixedLen-8) + int64(len(f.Msg)) + n
	if f.HasData {
		l += 8
	}
	return l
}

// Len returns the encoded length.
func (f replyFrame) Len() int { return 8 + int(f.payloadLen(int64(len(f.Data)))) }

// Append appends the encoded frame to b.
func (f replyFrame) Append(b []byte) ([]byte, error) {
	b, err := f.appendHead(b, int64(len(f.Data)))
	if err != nil {
		return b, err
	}
	return append(b, f.Data...), nil
}

// appendHead appends the header, the fixed fields and the message for n
// data bytes sent after them (f.Data is not appended): a reply whose
// segment data is sent from where it lies, with sendfile or a vectored
// write.
func (f replyFrame) appendHead(b []byte, n int64) ([]byte, error) {
	if (!f.HasData && (n != 0 || f.SegOff != 0)) || f.SegOff < 0 || n < 0 {
		return b, fmt.Errorf("reply data fields without data flag: %w", ErrMalformed)
	}
	if uint64(len(f.Msg)) > 1<<32-1 {
		return b, fmt.Errorf("reply message of %d bytes: %w", len(f.Msg), ErrMessageTooLarge)
	}
	if n > MaxFrameData {
		return b, fmt.Errorf("reply of %d data bytes: %w", n, ErrMessageTooLarge)
	}
	pl := f.payloadLen(n)
	var flags uint16
	if f.HasData {
		flags = replyData
	}
	b, err := appendHeader(b, frameReply, flags, int(pl))
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = append(b, f.Status)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Msg)))
	if f.HasData {
		b = binary.BigEndian.AppendUint64(b, uint64(f.SegOff))
	}
	return append(b, f.Msg...), nil
}

// replyHeadLen returns how many bytes of a reply frame precede its message,
// from the frame's first 8 bytes (its header).
func replyHeadLen(b []byte) int {
	if len(b) >= 8 && binary.BigEndian.Uint16(b[6:8])&replyData != 0 {
		return replyDataFixedLen
	}
	return replyFixedLen
}

// parseReplyHead decodes the fixed fields of a reply frame from its first
// replyHeadLen bytes, for a frame of total bytes read as a stream (a long
// reply: its segment data follows the message). It returns the frame
// without Msg and Data, the message's length and the data's.
func parseReplyHead(b []byte, total int64) (replyFrame, int64, int64, error) {
	h, n, err := wire.ParseFrameHeader(b)
	if err != nil {
		return replyFrame{}, 0, 0, err
	}
	if h.Version != wire.ProtocolVersion || h.Type != frameReply {
		return replyFrame{}, 0, 0, fmt.Errorf("frame version %d type %d: %w", h.Version, h.Type, ErrMalformed)
	}
	if int64(n)+int64(h.Length) != total {
		return replyFrame{}, 0, 0, fmt.Errorf("reply of %d bytes in a message of %d: %w", int64(n)+int64(h.Length), total, ErrMalformed)
	}
	if err := checkFlags(h, replyData); err != nil {
		return replyFrame{}, 0, 0, err
	}
	fixed := replyHeadLen(b)
	if total < int64(fixed) {
		return replyFrame{}, 0, 0, fmt.Errorf("reply of %d bytes: %w", total, ErrMalformed)
	}
	if len(b) < fixed {
		return replyFrame{}, 0, 0, io.ErrUnexpectedEOF
	}
	f := replyFrame{HasData: h.Flags&replyData != 0}
	d := fields{p: b[n:fixed]}
	f.Seq = d.u64()
	f.Status = d.u8()
	mlen := int64(d.u32())
	if f.HasData {
		f.SegOff = d.i64()
	}
	if d.err != nil {
		return replyFrame{}, 0, 0, d.err
	}
	if mlen > total-int64(fixed) {
		return replyFrame{}, 0, 0, fmt.Errorf("reply message of %d bytes in a frame of %d: %w", mlen, total, ErrMalformed)
	}
	dlen := total - int64(fixed) - mlen
	switch {
	case !f.HasData && dlen > 0:
		return replyFrame{}, 0, 0, fmt.Errorf("reply with %d trailing bytes: %w", dlen, ErrMalformed)
	case dlen > MaxFrameData || mlen > MaxFrameData:
		return replyFrame{}, 0, 0, fmt.Errorf("reply of %d message and %d data bytes: %w", mlen, dlen, ErrMalformed)
	}
	return f, mlen, dlen, nil
}

// parseReply decodes a reply frame at the start of b.
func parseReply(b []byte) (replyFrame, int, error) {
	h, p, n, err := parseHeader(b, frameReply)
	if err != nil {
		return replyFrame{}, 0, err
	}
	if err := checkFlags(h, replyData); err != nil {
		return replyFrame{}, 0, err
	}
	f := replyFrame{HasData: h.Flags&replyData != 0}
	d := fields{p: p}
	f.Seq = d.u64()
	f.Status = d.u8()
	mlen := d.u32()
	if f.HasData {
		f.SegOff = d.i64()
	}
	f.Msg = d.bytes(uint64(mlen))
	f.Data = d.rest()
	if d.err != nil {
		return replyFrame{}, 0, d.err
	}
	if len(f.Data) == 0 {
		f.Data = nil
	}
	if !f.HasData && f.Data != nil {
		return replyFrame{}, 0, fmt.Errorf("reply with %d trailing bytes: %w", len(f.Data), ErrMalformed)
	}
	return f, n, nil
}
