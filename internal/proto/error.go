// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import "fmt"

// ErrorCode classifies an [Error] reply so a daemon can act on it.
type ErrorCode uint16

// Error codes.
const (
	CodeInternal     ErrorCode = 1 // anything else; retry later
	CodeBadRequest   ErrorCode = 2 // the request is invalid; do not retry it unchanged
	CodeUnauthorized ErrorCode = 3 // wrong or missing token
	CodeUnknownPeer  ErrorCode = 4 // the peer is not registered (scheduler restarted?): Register and Join again
	CodeUnknownTask  ErrorCode = 5 // the peer is not in the task: Join again
	CodeTaskMismatch ErrorCode = 6 // Join disagrees with the task's size or piece size
	CodeUnavailable  ErrorCode = 7 // the scheduler is shutting down or overloaded: fall back to the source
)

// Error is the reply to a request that failed.
//
//	Error: code u16 | textLen u16 | text [textLen]
type Error struct {
	Code ErrorCode
	Text string // at most MaxErrorLen bytes
}

func (*Error) message() {}

// Type returns [TypeError].
func (*Error) Type() Type { return TypeError }

// Len returns the encoded length.
func (m *Error) Len() int { return HeaderLen + 2 + 2 + len(m.Text) }

// Error formats the reply as an error text.
func (m *Error) Error() string { return fmt.Sprintf("proto: remote error %d: %s", m.Code, m.Text) }

// Append appends the encoding of m to b.
func (m *Error) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeError)
	b = appendU16(b, uint16(m.Code))
	return format.AppendStr(b, 2, m.Text, MaxErrorLen, "error text")
}

func parseError(b []byte) (Error, int, error) {
	d := format.Decoder(b)
	var m Error
	m.Code = ErrorCode(d.U16())
	m.Text = d.Str(2, MaxErrorLen, "error text")
	n, err := d.Done()
	return m, n, err
}
