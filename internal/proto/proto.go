// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/codec"
)

// Version is the protocol version carried in every message header.
//
// Changelog:
//
//	1: first version (Register, Join, RequestPieces, PieceDone, PieceFailed,
//	   Evicted, Leave, Heartbeat; replies Registered, TaskInfo, Schedule,
//	   Ack, Error; daemon to daemon GetPiece, Piece, Miss).
//	2: fewer bytes from the scheduler per piece and peer. RequestPieces
//	   carries the pieces done since the last report, so that a daemon
//	   asking for work because a piece finished reports it in the same round
//	   trip instead of a PieceDone and its Ack; Schedule no longer repeats
//	   the task's id, and a parent's IP address travels in binary (7 bytes
//	   for IPv4 instead of 17). A version-1 peer gets ErrVersion (a
//	   BadRequest error), as with any other version.
const Version = 2

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

// format is proto's instance of the shared encoding: its errors wrap
// [ErrLimit] and [ErrMalformed].
var format = codec.Format{Limit: ErrLimit, Malformed: ErrMalformed}

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
