// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
)

// replyData is the reply frame flag saying segment data follows the message.
const replyData uint16 = 1 << 0

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

func (f replyFrame) payloadLen() int {
	n := 8 + 1 + 4 + len(f.Msg) + len(f.Data)
	if f.HasData {
		n += 8
	}
	return n
}

// Len returns the encoded length.
func (f replyFrame) Len() int { return 8 + f.payloadLen() }

// Append appends the encoded frame to b.
func (f replyFrame) Append(b []byte) ([]byte, error) {
	if (!f.HasData && (len(f.Data) != 0 || f.SegOff != 0)) || f.SegOff < 0 {
		return b, fmt.Errorf("reply data fields without data flag: %w", ErrMalformed)
	}
	if uint64(len(f.Msg)) > 1<<32-1 {
		return b, fmt.Errorf("reply message of %d bytes: %w", len(f.Msg), ErrMessageTooLarge)
	}
	var flags uint16
	if f.HasData {
		flags = replyData
	}
	b, err := appendHeader(b, frameReply, flags, f.payloadLen())
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, f.Seq)
	b = append(b, f.Status)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.Msg)))
	if f.HasData {
		b = binary.BigEndian.AppendUint64(b, uint64(f.SegOff))
	}
	b = append(b, f.Msg...)
	return append(b, f.Data...), nil
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
