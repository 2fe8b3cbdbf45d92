// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

// Version is the push protocol version carried in every message header.
//
// Changelog:
//
//	1: first version (Offer, Result).
//	2: Await. A receiver answers an Offer at once with a Result of
//	   CodeAccepted and the verdict in reply to Await, so that the
//	   offer, up to 512 KiB of piece digests, is not retransmitted by
//	   msg every second while the file is fetched.
const Version = 2

// HeaderLen is the length of the header in front of every message:
//
//	version u8 | type u8
const HeaderLen = 2

// format is push's instance of the shared encoding: its errors wrap
// [ErrLimit] and [ErrMalformed].
var format = codec.Format{Limit: ErrLimit, Malformed: ErrMalformed}

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
	TypeResult Type = 0x61 // reply to Offer and Await
	TypeAwait  Type = 0x62 // pusher → receiver, after CodeAccepted
)

func (t Type) String() string {
	switch t {
	case TypeOffer:
		return "Offer"
	case TypeResult:
		return "Result"
	case TypeAwait:
		return "Await"
	}
	return fmt.Sprintf("Type(%#02x)", uint8(t))
}

// Message is one push protocol message: [*Offer], [*Result] or
// [*Await]. The set is closed.
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

// appendHeader appends the header of a message of type t and the task id
// every message starts its body with.
func appendHeader(b []byte, t Type, task core.TaskID) ([]byte, error) {
	return format.AppendTask(append(b, Version, byte(t)), task)
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
	case TypeAwait:
		var a Await
		a, n, err = parseAwait(b[HeaderLen:])
		m = &a
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
