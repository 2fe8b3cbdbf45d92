// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// Version is the protocol version carried in every message header.
//
// Changelog:
//
//	1: first version (Register, Join, RequestPieces, PieceDone, PieceFailed,
//	   Evicted, Leave, Heartbeat; replies Registered, TaskInfo, Schedule,
//	   Ack, Error; daemon to daemon GetPiece, Piece, Miss).
const Version = 1

// HeaderLen is the length of the header in front of every message:
//
//	version u8 | type u8
const HeaderLen = 2

// Limits. A decoder rejects anything larger before it allocates.
const (
	MaxAddrLen    = 255     // bytes of a listen address (host:port)
	MaxTokenLen   = 255     // bytes of an authentication token
	MaxURLLen     = 4096    // bytes of a source URL
	MaxErrorLen   = 1024    // bytes of an error text
	MaxParents    = 8       // parents offered for one piece
	MaxBatch      = 1024    // pieces in one Schedule, PieceDone or Evicted
	MaxWindow     = 4096    // pieces in a stream-mode window
	MaxRetryMilli = 1 << 30 // largest retry/wait hint in milliseconds
	// A task has at most core.MaxPieces pieces, so a have bitmap is at most
	// core.MaxPieces/8 bytes; a piece is at most core.MaxPieceSize bytes.
)

// Errors returned by the decoders and encoders. Truncated input is
// [io.ErrUnexpectedEOF].
var (
	ErrVersion     = errors.New("proto: unsupported protocol version")
	ErrUnknownType = errors.New("proto: unknown message type")
	ErrLimit       = errors.New("proto: length over limit")
	ErrMalformed   = errors.New("proto: malformed message")
	ErrTrailing    = errors.New("proto: trailing bytes after message")
)

// Type identifies a message kind; it is the second header byte.
type Type uint8

// Message types. Requests from daemon to scheduler are 0x01–0x1f, scheduler
// replies 0x20–0x3f, daemon-to-daemon messages 0x40–0x5f.
const (
	TypeRegister      Type = 0x01 // daemon → scheduler
	TypeJoin          Type = 0x02 // daemon → scheduler
	TypeRequestPieces Type = 0x03 // daemon → scheduler
	TypePieceDone     Type = 0x04 // daemon → scheduler
	TypePieceFailed   Type = 0x05 // daemon → scheduler
	TypeEvicted       Type = 0x06 // daemon → scheduler
	TypeLeave         Type = 0x07 // daemon → scheduler
	TypeHeartbeat     Type = 0x08 // daemon → scheduler
	TypeRegistered    Type = 0x20 // reply to Register
	TypeTaskInfo      Type = 0x21 // reply to Join
	TypeSchedule      Type = 0x22 // reply to RequestPieces
	TypeAck           Type = 0x23 // reply to PieceDone, PieceFailed, Evicted, Leave, Heartbeat
	TypeError         Type = 0x24 // reply to any request that failed
	TypeGetPiece      Type = 0x40 // daemon → daemon
	TypePiece         Type = 0x41 // reply to GetPiece: header, then the piece bytes
	TypeMiss          Type = 0x42 // reply to GetPiece: the piece is not served
)

var typeNames = map[Type]string{
	TypeRegister: "Register", TypeJoin: "Join", TypeRequestPieces: "RequestPieces",
	TypePieceDone: "PieceDone", TypePieceFailed: "PieceFailed", TypeEvicted: "Evicted",
	TypeLeave: "Leave", TypeHeartbeat: "Heartbeat", TypeRegistered: "Registered",
	TypeTaskInfo: "TaskInfo", TypeSchedule: "Schedule", TypeAck: "Ack", TypeError: "Error",
	TypeGetPiece: "GetPiece", TypePiece: "Piece", TypeMiss: "Miss",
}

func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Type(%#02x)", uint8(t))
}

// Message is one protocol message. The set of implementations is closed:
// the pointer types of this package's message structs.
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

// Identifiers are core's: a [core.PeerID] is 16 bytes on the wire and the
// zero PeerID stands for the source wherever a parent is named; a
// [core.TaskID] (64 hex digits) travels as its 32 binary bytes, the empty
// TaskID as 32 zero bytes; a [core.Digest] is 32 bytes, zero when unknown.

// appendTask appends the 32 bytes of id.
func appendTask(b []byte, id core.TaskID) ([]byte, error) {
	if id == "" {
		return append(b, make([]byte, taskIDLen)...), nil
	}
	if !id.Valid() {
		return b, fmt.Errorf("%w: task id %q", ErrMalformed, id)
	}
	return hex.AppendDecode(b, []byte(id))
}

// taskIDLen is the binary length of a core.TaskID.
const taskIDLen = 32

var zeroTask [taskIDLen]byte

// Decode decodes exactly one message that fills b. Trailing bytes are
// [ErrTrailing]; use [Parse] for a [*Piece] header followed by its body.
func Decode(b []byte) (Message, error) {
	m, n, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d of %d bytes used by %v", ErrTrailing, n, len(b), m.Type())
	}
	return m, nil
}

// Parse decodes the message at the head of b and returns it with the number
// of bytes it occupies. Bytes after it are left alone.
func Parse(b []byte) (Message, int, error) {
	if len(b) < HeaderLen {
		return nil, 0, io.ErrUnexpectedEOF
	}
	if b[0] != Version {
		return nil, 0, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	body := b[HeaderLen:]
	var (
		m   Message
		n   int
		err error
	)
	switch t := Type(b[1]); t {
	case TypeRegister:
		m, n, err = wrap(parseRegister(body))
	case TypeJoin:
		m, n, err = wrap(parseJoin(body))
	case TypeRequestPieces:
		m, n, err = wrap(parseRequestPieces(body))
	case TypePieceDone:
		m, n, err = wrap(parsePieceDone(body))
	case TypePieceFailed:
		m, n, err = wrap(parsePieceFailed(body))
	case TypeEvicted:
		m, n, err = wrap(parseEvicted(body))
	case TypeLeave:
		m, n, err = wrap(parseLeave(body))
	case TypeHeartbeat:
		m, n, err = wrap(parseHeartbeat(body))
	case TypeRegistered:
		m, n, err = wrap(parseRegistered(body))
	case TypeTaskInfo:
		m, n, err = wrap(parseTaskInfo(body))
	case TypeSchedule:
		m, n, err = wrap(parseSchedule(body))
	case TypeAck:
		m, n, err = wrap(parseAck(body))
	case TypeError:
		m, n, err = wrap(parseError(body))
	case TypeGetPiece:
		m, n, err = wrap(parseGetPiece(body))
	case TypePiece:
		m, n, err = wrap(parsePiece(body))
	case TypeMiss:
		m, n, err = wrap(parseMiss(body))
	default:
		return nil, 0, fmt.Errorf("%w: %v", ErrUnknownType, t)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%v: %w", Type(b[1]), err)
	}
	return m, HeaderLen + n, nil
}

// messageValue is a message struct whose pointer is a Message.
type messageValue[T any] interface {
	*T
	Message
}

// wrap turns a parseX result into a Message.
func wrap[T any, P messageValue[T]](v T, n int, err error) (Message, int, error) {
	if err != nil {
		return nil, 0, err
	}
	p := new(T) // allocated only on success; taking &v would move v to the heap on every call
	*p = v
	return P(p), n, nil
}

// appendHeader starts a message of type t.
func appendHeader(b []byte, t Type) []byte { return append(b, Version, byte(t)) }

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// appendStr8 appends a string with a one-byte length.
func appendStr8(b []byte, s string, limit int, what string) ([]byte, error) {
	if len(s) > limit || len(s) > 0xff {
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrLimit, what, len(s), limit)
	}
	return append(append(b, byte(len(s))), s...), nil
}

// appendStr16 appends a string with a two-byte length.
func appendStr16(b []byte, s string, limit int, what string) ([]byte, error) {
	if len(s) > limit || len(s) > 0xffff {
		return b, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrLimit, what, len(s), limit)
	}
	return append(appendU16(b, uint16(len(s))), s...), nil
}

// decoder reads fixed-width big-endian fields from a body. The first error
// sticks; later reads return zero values.
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

// remaining is the number of unread bytes.
func (d *decoder) remaining() int { return len(d.b) - d.n }

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

func (d *decoder) peer() (id core.PeerID) {
	copy(id[:], d.take(len(id)))
	return id
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

// str reads a string of length k, checked against limit before copying.
func (d *decoder) str(k, limit int, what string) string {
	if d.err != nil {
		return ""
	}
	if k > limit {
		d.fail(fmt.Errorf("%w: %s is %d bytes, limit %d", ErrLimit, what, k, limit))
		return ""
	}
	return string(d.take(k))
}

// count reads a list length of width bytes (2 or 4) and checks it against
// [lo, limit] and against the bytes left (each element at least minSize).
func (d *decoder) count(width, lo, limit, minSize int, what string) int {
	var k int
	if width == 2 {
		k = int(d.u16())
	} else {
		k = int(d.u32())
	}
	if d.err != nil {
		return 0
	}
	if k > limit {
		d.fail(fmt.Errorf("%w: %d %s, limit %d", ErrLimit, k, what, limit))
		return 0
	}
	if k < lo {
		d.fail(fmt.Errorf("%w: %d %s, at least %d", ErrMalformed, k, what, lo))
		return 0
	}
	if k*minSize > d.remaining() {
		d.fail(io.ErrUnexpectedEOF)
		return 0
	}
	return k
}

// flag reads a byte that must be 0 or 1.
func (d *decoder) flag(what string) bool {
	v := d.u8()
	if v > 1 {
		d.fail(fmt.Errorf("%w: %s is %d, want 0 or 1", ErrMalformed, what, v))
	}
	return v == 1
}

func (d *decoder) done() (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	return d.n, nil
}
