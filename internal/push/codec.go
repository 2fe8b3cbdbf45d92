// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// Version is the push protocol version carried in every message header.
//
// Changelog:
//
//	1: first version (Offer, Result).
const Version = 1

// HeaderLen is the length of the header in front of every message:
//
//	version u8 | type u8
const HeaderLen = 2

// Limits. A decoder rejects anything larger before it allocates.
const (
	MaxTokenLen     = 255   // bytes of an authentication token
	MaxAddrLen      = 255   // bytes of a host:port
	MaxURLLen       = 4096  // bytes of a source URL
	MaxTextLen      = 1024  // bytes of an error text
	MaxPieceDigests = 16384 // per-piece digests in one Offer (512 KiB)
)

// Type identifies a message kind; it is the second header byte. The push
// messages use 0x60–0x6f, apart from internal/proto's types, so a
// message sent to the wrong service is refused rather than misread.
type Type uint8

// Message types.
const (
	TypeOffer  Type = 0x60 // pusher → receiver
	TypeResult Type = 0x61 // reply to Offer
)

func (t Type) String() string {
	switch t {
	case TypeOffer:
		return "Offer"
	case TypeResult:
		return "Result"
	}
	return fmt.Sprintf("Type(%#02x)", uint8(t))
}

// Message is one push protocol message: [*Offer] or [*Result]. The set
// is closed.
type Message interface {
	// Type is the message's header type byte.
	Type() Type
	// Len is the encoded length including the header.
	Len() int
	// Append appends the encoding (header and body) to b. It fails with
	// [ErrLimit] or [ErrMalformed] if the message cannot be encoded.
	Append(b []byte) ([]byte, error)
	message()
}

// Decode decodes exactly one message that fills b. Truncated input is
// io.ErrUnexpectedEOF; bytes after the message are [ErrTrailing].
func Decode(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return nil, io.ErrUnexpectedEOF
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	var (
		m   Message
		n   int
		err error
	)
	switch t := Type(b[1]); t {
	case TypeOffer:
		var o Offer
		o, n, err = parseOffer(b[HeaderLen:])
		m = &o
	case TypeResult:
		var r Result
		r, n, err = parseResult(b[HeaderLen:])
		m = &r
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		return nil, fmt.Errorf("%v: %w", Type(b[1]), err)
	}
	if HeaderLen+n != len(b) {
		return nil, fmt.Errorf("%w: %d of %d bytes used by %v", ErrTrailing, HeaderLen+n, len(b), m.Type())
	}
	return m, nil
}

// taskIDLen is the binary length of a core.TaskID.
const taskIDLen = 32

// zeroTask is the encoding of the empty task id.
var zeroTask [taskIDLen]byte

// appendTask appends the 32 bytes of id, which must be valid; the empty
// id (a result for an offer that could not be read) is 32 zero bytes.
func appendTask(b []byte, id core.TaskID) ([]byte, error) {
	if id == "" {
		return append(b, zeroTask[:]...), nil
	}
	if !id.Valid() {
		return b, fmt.Errorf("%w: task id %q", ErrMalformed, id)
	}
	return hex.AppendDecode(b, []byte(id))
}

// appendStr appends a string with a width-byte (1 or 2) length.
func appendStr(b []byte, width int, s string, limit int, what string) ([]byte, error) {
	if len(s) > limit {
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrLimit, what, len(s), limit)
	}
	if width == 1 {
		b = append(b, byte(len(s)))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	}
	return append(b, s...), nil
}

// decoder reads fixed-width big-endian fields from a body. The first
// error sticks; later reads return zero values.
type decoder struct {
	b   []byte
	n   int
	err error
}

// take returns the next k bytes, or nil and io.ErrUnexpectedEOF.
func (d *decoder) take(k int) []byte {
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

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) task() core.TaskID {
	p := d.take(taskIDLen)
	if p == nil || [taskIDLen]byte(p) == zeroTask {
		return ""
	}
	return core.TaskID(hex.EncodeToString(p))
}

func (d *decoder) digest() (dg core.Digest) {
	copy(dg[:], d.take(len(dg)))
	return dg
}

// str reads a string with a width-byte length, checked against limit
// before anything is copied.
func (d *decoder) str(width, limit int, what string) string {
	var k int
	if width == 1 {
		k = int(d.u8())
	} else {
		k = int(d.u16())
	}
	if d.err != nil {
		return ""
	}
	if k > limit {
		d.fail(fmt.Errorf("%w: %s is %d bytes, limit %d", ErrLimit, what, k, limit))
		return ""
	}
	return string(d.take(k))
}

func (d *decoder) done() (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	return d.n, nil
}
