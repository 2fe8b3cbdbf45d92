// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with [errors.Is]; msg wraps them with context.
var (
	// ErrClosed is returned by operations on a closed [Node].
	ErrClosed = errors.New("msg: node closed")
	// ErrBadAddress reports an address msg cannot use.
	ErrBadAddress = errors.New("msg: bad address")
	// ErrNoDestination reports an in-process destination nobody listens on.
	ErrNoDestination = errors.New("msg: no such destination")
	// ErrUnreachable reports a destination that stopped answering: the
	// retransmissions of a Send got neither a reply nor "reply pending".
	ErrUnreachable = errors.New("msg: destination unreachable")
	// ErrMessageTooLarge reports a message or reply longer than
	// [Config.MaxMessage], or segment data longer than [Config.MaxCarry].
	ErrMessageTooLarge = errors.New("msg: message too large")
	// ErrNotAwaitingReply reports an operation on a request whose sender no
	// longer awaits the reply: it was answered, or the Send was cancelled.
	ErrNotAwaitingReply = errors.New("msg: sender is not awaiting a reply")
	// ErrAccess reports a move the segment's grant does not allow (no read
	// or no write right, or no segment at all).
	ErrAccess = errors.New("msg: access not granted")
	// ErrOutOfRange reports a move or segment reply outside the granted
	// segment. Nothing is moved.
	ErrOutOfRange = errors.New("msg: outside the granted segment")
	// ErrSegmentBeyondFile reports a file segment that extends past the end
	// of its file.
	ErrSegmentBeyondFile = errors.New("msg: segment extends past the end of its file")
	// ErrMalformed reports a frame that cannot be decoded.
	ErrMalformed = errors.New("msg: malformed frame")
	// ErrProtocol reports a peer that broke the protocol, for example by
	// sending move data nobody asked for or outside the requested range.
	ErrProtocol = errors.New("msg: protocol violation by peer")
	// ErrReplyLost reports a retransmitted request whose reply the receiver
	// no longer holds (evicted under memory pressure). The request ran once;
	// its reply is gone.
	ErrReplyLost = errors.New("msg: reply evicted from the reply cache")
	// ErrBusy reports a receiver that refused a request because too many of
	// the sender's requests are outstanding there.
	ErrBusy = errors.New("msg: receiver busy")
	// ErrRemote reports a failure on the remote side that has no sentinel
	// of its own; the [RemoteError] text says what it was.
	ErrRemote = errors.New("msg: remote failure")
)

// A RemoteError is an error reported by the peer in a reply or move status.
// Err is the matching sentinel (for example [ErrOutOfRange]), or [ErrRemote].
type RemoteError struct {
	Err    error  // sentinel for the status code
	Detail string // the peer's text, possibly empty; untrusted
}

// Error implements error.
func (e *RemoteError) Error() string {
	if e.Detail == "" {
		return "remote: " + e.Err.Error()
	}
	return fmt.Sprintf("remote: %v: %q", e.Err, e.Detail)
}

// Unwrap returns the sentinel.
func (e *RemoteError) Unwrap() error { return e.Err }

// Status codes carried in reply and move-done frames (docs/msg-protocol.md).
const (
	statusOK          uint8 = 0
	statusRemote      uint8 = 1
	statusNotAwaiting uint8 = 2
	statusAccess      uint8 = 3
	statusOutOfRange  uint8 = 4
	statusTooLarge    uint8 = 5
	statusReplyLost   uint8 = 6
	statusBusy        uint8 = 7
	statusMalformed   uint8 = 8
	statusClosed      uint8 = 9
	statusBeyondFile  uint8 = 10
)

var statusErrs = [...]error{
	statusRemote:      ErrRemote,
	statusNotAwaiting: ErrNotAwaitingReply,
	statusAccess:      ErrAccess,
	statusOutOfRange:  ErrOutOfRange,
	statusTooLarge:    ErrMessageTooLarge,
	statusReplyLost:   ErrReplyLost,
	statusBusy:        ErrBusy,
	statusMalformed:   ErrMalformed,
	statusClosed:      ErrClosed,
	statusBeyondFile:  ErrSegmentBeyondFile,
}

// statusOf maps an error to the status code sent to the peer.
func statusOf(err error) uint8 {
	if err == nil {
		return statusOK
	}
	for code, s := range statusErrs {
		if s != nil && code != int(statusRemote) && errors.Is(err, s) {
			return uint8(code)
		}
	}
	return statusRemote
}

// remoteErr turns a status code and the peer's text into a [*RemoteError].
func remoteErr(status uint8, detail []byte) error {
	if status == statusOK {
		return nil
	}
	e := ErrRemote
	if int(status) < len(statusErrs) && statusErrs[status] != nil {
		e = statusErrs[status]
	}
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	return &RemoteError{Err: e, Detail: string(detail)}
}

// maxDetail bounds the error text sent with a status.
const maxDetail = 200

// detailOf returns the text sent with err's status, bounded by maxDetail.
func detailOf(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > maxDetail {
		s = s[:maxDetail]
	}
	return s
}
