// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package codec is the append-style, big-endian binary encoding shared by
// pollen's internal message formats (internal/proto between daemons and the
// scheduler, internal/push between pusher and receivers).
//
// A format names its own error sentinels in a [Format]; every error this
// package returns wraps one of them (or [io.ErrUnexpectedEOF]), so callers
// keep matching a format's errors with errors.Is. Decoding is bounded: a
// length is checked against its limit, and against the bytes left, before
// anything is copied or allocated.
package codec

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// TaskIDLen is the binary length of a [core.TaskID]: its 64 hex digits as
// 32 bytes. The empty TaskID travels as 32 zero bytes.
const TaskIDLen = 32

var zeroTask [TaskIDLen]byte

// Format holds the sentinels a message format's errors wrap.
type Format struct {
	Limit     error // a length or count over its limit
	Malformed error // a value the format does not allow
}

// AppendTask appends the 32 bytes of id; the empty id is 32 zero bytes.
func (f Format) AppendTask(b []byte, id core.TaskID) ([]byte, error) {
	if id == "" {
		return append(b, zeroTask[:]...), nil
	}
	if !id.Valid() {
		return b, fmt.Errorf("%w: task id %q", f.Malformed, id)
	}
	return hex.AppendDecode(b, []byte(id))
}

// AppendStr appends s after its length in width (1 or 2) bytes. A string
// longer than limit, or than the width can say, is an error wrapping
// f.Limit and b is returned unchanged.
func (f Format) AppendStr(b []byte, width int, s string, limit int, what string) ([]byte, error) {
	if width == 1 {
		limit = min(limit, 0xff)
	} else {
		limit = min(limit, 0xffff)
	}
	if len(s) > limit {
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", f.Limit, what, len(s), limit)
	}
	if width == 1 {
		b = append(b, byte(len(s)))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...), nil
}

// Decoder returns a decoder of body b.
func (f Format) Decoder(b []byte) Decoder {
	return Decoder{b: b, f: f}
}

// Decoder reads fixed-width big-endian fields from a body. The first error
// sticks; later reads return zero values, so a decode function reads every
// field and checks [Decoder.Err] (or [Decoder.Done]) once.
type Decoder struct {
	b   []byte
	n   int
	err error
	f   Format
}

// Err is the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err unless an error is already recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Done returns the number of bytes read, or the first error.
func (d *Decoder) Done() (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	return d.n, nil
}

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.b) - d.n }

// Take returns the next k bytes (aliasing the body, capacity k), or nil
// after an error or when fewer than k are left ([io.ErrUnexpectedEOF]).
func (d *Decoder) Take(k int) []byte {
	if d.err != nil {
		return nil
	}
	if k < 0 || len(d.b)-d.n < k {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	p := d.b[d.n : d.n+k : d.n+k]
	d.n += k
	return p
}

// U8 reads one byte.
func (d *Decoder) U8() uint8 {
	if p := d.Take(1); p != nil {
		return p[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (d *Decoder) U16() uint16 {
	if p := d.Take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (d *Decoder) U32() uint32 {
	if p := d.Take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (d *Decoder) U64() uint64 {
	if p := d.Take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// Flag reads a byte that must be 0 or 1.
func (d *Decoder) Flag(what string) bool {
	v := d.U8()
	if v > 1 {
		d.Fail(fmt.Errorf("%w: %s is %d, want 0 or 1", d.f.Malformed, what, v))
	}
	return v == 1
}

// Peer reads a 16-byte [core.PeerID].
func (d *Decoder) Peer() (id core.PeerID) {
	copy(id[:], d.Take(len(id)))
	return id
}

// Task reads a 32-byte [core.TaskID]; 32 zero bytes are the empty id.
func (d *Decoder) Task() core.TaskID {
	p := d.Take(TaskIDLen)
	if p == nil || [TaskIDLen]byte(p) == zeroTask {
		return ""
	}
	return core.TaskID(hex.EncodeToString(p))
}

// Digest reads a 32-byte [core.Digest].
func (d *Decoder) Digest() (dg core.Digest) {
	copy(dg[:], d.Take(len(dg)))
	return dg
}

// Str reads a string after its length in width (1 or 2) bytes, checked
// against limit before anything is copied.
func (d *Decoder) Str(width, limit int, what string) string {
	var k int
	if width == 1 {
		k = int(d.U8())
	} else {
		k = int(d.U16())
	}
	if d.err != nil {
		return ""
	}
	if k > limit {
		d.Fail(fmt.Errorf("%w: %s is %d bytes, limit %d", d.f.Limit, what, k, limit))
		return ""
	}
	return string(d.Take(k))
}

// Count reads a list length in width (2 or 4) bytes and checks it against
// [lo, limit] and against the bytes left, each element taking at least
// minSize bytes, so a hostile count never sizes an allocation.
func (d *Decoder) Count(width, lo, limit, minSize int, what string) int {
	var k int
	if width == 2 {
		k = int(d.U16())
	} else {
		k = int(d.U32())
	}
	if d.err != nil {
		return 0
	}
	if k > limit {
		d.Fail(fmt.Errorf("%w: %d %s, limit %d", d.f.Limit, k, what, limit))
		return 0
	}
	if k < lo {
		d.Fail(fmt.Errorf("%w: %d %s, at least %d", d.f.Malformed, k, what, lo))
		return 0
	}
	if k*minSize > d.Remaining() {
		d.Fail(io.ErrUnexpectedEOF)
		return 0
	}
	return k
}
