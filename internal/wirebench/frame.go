// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the length of the frame header every benchmark message starts
// with. The layout is pollen's own frame (docs/design/0001-wire-api.md):
//
//	0      4        5     6       8
//	| len  | version | type | flags | payload (len bytes) ...
//
// len is the big-endian payload length, so wire.Frames() cuts these
// messages and the stream transports read them with the same two steps.
const HeaderLen = 8

// frameVersion is the pollen frame version written into every header.
const frameVersion = 1

// Message types of the benchmark protocol, carried in the header's type byte.
const (
	typeEcho  = 1 // request: the server sends the same bytes back
	typeSink  = 2 // streamed data: the server counts it and sends nothing
	typeFlush = 3 // payload: 8-byte count of sink bytes sent; answered by typeAck once received
	typeAck   = 4 // payload: 8-byte count of sink bytes received
	typeBye   = 5 // end of a session (wire): answered by typeAck, then the server closes it
)

// maxMessage bounds every message the benchmark reads: 16 MiB like wire's
// default MaxMessageSize.
const maxMessage = 16 << 20

var errBadMessage = errors.New("wirebench: bad message")

// newMessage returns a frame of type typ with payload length n, filled with
// a recognisable pattern.
func newMessage(typ byte, n int) []byte {
	b := make([]byte, HeaderLen+n)
	putHeader(b, typ, n)
	for i := range n {
		b[HeaderLen+i] = byte(i)
	}
	return b
}

func putHeader(b []byte, typ byte, n int) {
	binary.BigEndian.PutUint32(b[0:4], uint32(n))
	b[4] = frameVersion
	b[5] = typ
	b[6], b[7] = 0, 0
}

// countMessage returns a typeFlush or typeAck frame carrying n.
func countMessage(typ byte, n int64) []byte {
	b := make([]byte, HeaderLen+8)
	putHeader(b, typ, 8)
	binary.BigEndian.PutUint64(b[HeaderLen:], uint64(n))
	return b
}

// parseHeader checks b's header against its length and returns its type and
// payload length.
func parseHeader(b []byte) (typ byte, n int, err error) {
	if len(b) < HeaderLen {
		return 0, 0, fmt.Errorf("%w: %d bytes, shorter than a header", errBadMessage, len(b))
	}
	n = int(binary.BigEndian.Uint32(b[0:4]))
	if n > maxMessage-HeaderLen {
		return 0, 0, fmt.Errorf("%w: payload length %d over the limit", errBadMessage, n)
	}
	return b[5], n, nil
}

// messageCount returns the count carried by a typeFlush or typeAck frame.
func messageCount(b []byte, want byte) (int64, error) {
	typ, n, err := parseHeader(b)
	if err != nil {
		return 0, err
	}
	if typ != want || n != 8 || len(b) != HeaderLen+8 {
		return 0, fmt.Errorf("%w: got type %d with %d bytes, want type %d with a count", errBadMessage, typ, len(b), want)
	}
	return int64(binary.BigEndian.Uint64(b[HeaderLen:])), nil
}
