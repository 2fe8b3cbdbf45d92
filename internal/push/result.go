// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

// Code is a receiver's verdict on one file, carried in a [Result].
type Code uint8

// Result codes. Each failure code matches a sentinel of this package
// through [*RemoteError], so the pusher can test errors.Is(err,
// push.ErrDiskFull) on a remote failure as on a local one.
const (
	CodeOK           Code = 0  // placed and verified
	CodeUnauthorized Code = 1  // ErrUnauthorized
	CodeBadName      Code = 2  // ErrBadName
	CodeTooLarge     Code = 3  // ErrTooLarge
	CodeDiskFull     Code = 4  // ErrDiskFull
	CodeDigest       Code = 5  // ErrDigest
	CodeExists       Code = 6  // ErrExists
	CodeBadOffer     Code = 7  // ErrBadOffer (and malformed messages)
	CodeFetch        Code = 8  // ErrFetch
	CodeSize         Code = 9  // ErrSize
	CodeClosed       Code = 10 // ErrClosed: the receiver is shutting down
	CodeInternal     Code = 11 // anything else
	// CodeAccepted answers an Offer the receiver took: the file is being
	// fetched, and the verdict is the reply to an [Await]. It is not a
	// verdict: [Result.Err] reports it as unexpected where one is due.
	CodeAccepted Code = 12
)

// codeErrs maps each failure code to its sentinel, in the order CodeOf
// tries them.
var codeErrs = []struct {
	code Code
	err  error
}{
	{CodeUnauthorized, ErrUnauthorized},
	{CodeBadName, ErrBadName},
	{CodeTooLarge, ErrTooLarge},
	{CodeDiskFull, ErrDiskFull},
	{CodeDigest, ErrDigest},
	{CodeExists, ErrExists},
	{CodeBadOffer, ErrBadOffer},
	{CodeFetch, ErrFetch},
	{CodeSize, ErrSize},
	{CodeClosed, ErrClosed},
}

// CodeOf returns the code that reports err to the pusher: CodeOK for nil,
// the code of the first sentinel err matches, else CodeInternal.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for _, ce := range codeErrs {
		if errors.Is(err, ce.err) {
			return ce.code
		}
	}
	if errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) || errors.Is(err, ErrVersion) || errors.Is(err, ErrUnknownType) {
		return CodeBadOffer
	}
	return CodeInternal
}

func (c Code) String() string {
	switch c {
	case CodeOK:
		return "ok"
	case CodeInternal:
		return "internal error"
	case CodeAccepted:
		return "accepted, no verdict yet"
	}
	for _, ce := range codeErrs {
		if ce.code == c {
			return ce.err.Error()[len("push: "):]
		}
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// RemoteError is a failure a receiver reported in its [Result]. It
// matches the sentinel of its code with errors.Is.
type RemoteError struct {
	Code Code
	Text string // the receiver's error text
}

func (e *RemoteError) Error() string {
	if e.Text == "" {
		return "receiver: push: " + e.Code.String()
	}
	return "receiver: " + e.Text
}

// Is reports whether target is the sentinel of e's code.
func (e *RemoteError) Is(target error) bool {
	for _, ce := range codeErrs {
		if ce.code == e.Code {
			return target == ce.err
		}
	}
	return false
}

// Result is a receiver's answer to an [Offer]: the file was placed and
// verified (Code OK, Digest the verified SHA-256), or it failed (Code and
// Text). Bytes is what the receiver got, FromSeed the part of it that came
// from the pusher rather than other receivers, Millis the time from offer
// to verdict.
//
//	Result: task [32] | code u8 | bytes u64 | fromSeed u64 | millis u32 |
//	        digest [32] | nameLen u16 | name | textLen u16 | text
type Result struct {
	Task     core.TaskID // the task of the offer; empty if the offer could not be read
	Code     Code
	Bytes    uint64
	FromSeed uint64 // at most Bytes
	Millis   uint32
	Digest   core.Digest // verified digest; zero unless Code is CodeOK
	Name     string      // the name placed (the offer's); at most MaxNameLen bytes
	Text     string      // error text; at most MaxTextLen bytes
}

// NewResult builds the Result that reports err (nil: success with the
// verified digest) for offer o.
func NewResult(o *Offer, digest core.Digest, bytes, fromSeed int64, elapsed time.Duration, err error) *Result {
	r := &Result{
		Task: o.Task, Code: CodeOf(err), Bytes: uint64(max(bytes, 0)), Name: o.Name,
		Millis: uint32(min(max(elapsed.Milliseconds(), 0), 1<<32-1)),
	}
	r.FromSeed = min(uint64(max(fromSeed, 0)), r.Bytes)
	if err == nil {
		r.Digest = digest
	} else {
		r.Text = truncate(err.Error(), MaxTextLen)
	}
	if len(r.Name) > MaxNameLen {
		r.Name = r.Name[:MaxNameLen]
	}
	return r
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Err returns nil for a success and a [*RemoteError] otherwise.
func (m *Result) Err() error {
	if m.Code == CodeOK {
		return nil
	}
	return &RemoteError{Code: m.Code, Text: m.Text}
}

// Elapsed returns Millis as a duration.
func (m *Result) Elapsed() time.Duration { return time.Duration(m.Millis) * time.Millisecond }

func (*Result) message() {}

// Type returns [TypeResult].
func (*Result) Type() Type { return TypeResult }

// Len returns the encoded length.
func (m *Result) Len() int {
	return HeaderLen + codec.TaskIDLen + 1 + 8 + 8 + 4 + 32 + 2 + len(m.Name) + 2 + len(m.Text)
}

func (m *Result) validate() error {
	switch {
	case m.Task != "" && !m.Task.Valid():
		return fmt.Errorf("%w: task id %q", ErrMalformed, m.Task)
	case m.FromSeed > m.Bytes:
		return fmt.Errorf("%w: %d bytes from the seed of %d", ErrMalformed, m.FromSeed, m.Bytes)
	case m.Code != CodeOK && !m.Digest.IsZero():
		return fmt.Errorf("%w: digest on a failure", ErrMalformed)
	case m.Code == CodeOK && m.Digest.IsZero():
		return fmt.Errorf("%w: success without a digest", ErrMalformed)
	}
	return nil
}

// Append appends the encoding of m to b.
func (m *Result) Append(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, fmt.Errorf("result: %w", err)
	}
	b0 := b
	b, err := appendHeader(b, TypeResult, m.Task)
	if err != nil {
		return b0, err
	}
	b = append(b, byte(m.Code))
	b = binary.BigEndian.AppendUint64(b, m.Bytes)
	b = binary.BigEndian.AppendUint64(b, m.FromSeed)
	b = binary.BigEndian.AppendUint32(b, m.Millis)
	b = append(b, m.Digest[:]...)
	if b, err = format.AppendStr(b, 2, m.Name, MaxNameLen, "name"); err != nil {
		return b0, err
	}
	if b, err = format.AppendStr(b, 2, m.Text, MaxTextLen, "text"); err != nil {
		return b0, err
	}
	return b, nil
}

func parseResult(b []byte) (Result, int, error) {
	d := format.Decoder(b)
	m := Result{
		Task: d.Task(), Code: Code(d.U8()), Bytes: d.U64(), FromSeed: d.U64(), Millis: d.U32(), Digest: d.Digest(),
	}
	m.Name = d.Str(2, MaxNameLen, "name")
	m.Text = d.Str(2, MaxTextLen, "text")
	if d.Err() == nil {
		d.Fail(m.validate())
	}
	n, err := d.Done()
	return m, n, err
}
