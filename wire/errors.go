// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"net"
)

// Sentinel errors. Match them with [errors.Is]; the errors wire returns wrap
// them with context.
var (
	// ErrClosed is returned by operations on a closed [Mux] or [Socket].
	ErrClosed = errors.New("wire: closed")
	// ErrAlreadyAttached is returned by [Mux.Attach] for a connection that is
	// already attached.
	ErrAlreadyAttached = errors.New("wire: connection already attached")
	// ErrNotAttached is returned by [Mux.Detach] for a connection that is not
	// attached (or was already detached or aborted).
	ErrNotAttached = errors.New("wire: connection not attached")
	// ErrReceiveDisabled is returned by [Socket.Receive] and [Socket.Recv]
	// while receiving is disabled on the socket.
	ErrReceiveDisabled = errors.New("wire: receive disabled")
	// ErrTruncated is returned by [Socket.Recv] when the caller's buffer was
	// shorter than the message; the rest of the message was dropped.
	ErrTruncated = errors.New("wire: message truncated to buffer")
	// ErrMessageTooLarge aborts a connection whose next message is longer
	// than [Config.MaxMessageSize]. It is detected before anything is
	// allocated for the message.
	ErrMessageTooLarge = errors.New("wire: message too large")
	// ErrBadLength aborts a connection whose parser returned a length that
	// cannot be right: negative, or not longer than the bytes it had already
	// seen when it asked for more.
	ErrBadLength = errors.New("wire: bad message length")
	// ErrAssemblyTimeout aborts a connection whose message was still
	// incomplete [Config.AssemblyTimeout] after its first byte arrived.
	ErrAssemblyTimeout = errors.New("wire: message assembly timed out")
	// ErrTruncatedMessage aborts a connection that failed or was closed in
	// the middle of a message. It is also returned by [Message.Read] when a
	// streamed message's connection fails or is detached.
	ErrTruncatedMessage = errors.New("wire: connection closed mid-message")
)

// An AbortError reports a connection that the mux detached and closed because
// of an error: bad input from the peer (Err wraps [ErrMessageTooLarge],
// [ErrBadLength], [ErrAssemblyTimeout], [ErrTruncatedMessage] or a
// [*ParserError]) or a failed write. It is passed to [Config.OnAbort].
type AbortError struct {
	Conn net.Conn // the aborted connection, already closed
	Err  error    // the cause
}

// Error implements error.
func (e *AbortError) Error() string {
	return "wire: connection aborted: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *AbortError) Unwrap() error { return e.Err }

// A ParserError wraps an error returned by a [Parser]. The connection it was
// parsing is aborted.
type ParserError struct {
	Err error // what the parser returned
}

// Error implements error.
func (e *ParserError) Error() string { return "wire: parser: " + e.Err.Error() }

// Unwrap returns the parser's error.
func (e *ParserError) Unwrap() error { return e.Err }

// errRetry tells a sender that its connection failed before its message was
// completely written: the message must be sent again, whole, elsewhere.
var errRetry = errors.New("wire: retry on another connection")

// errGone tells a sender that the connection it picked was detached before
// its message was queued: nothing was written, so it is not a retry.
var errGone = errors.New("wire: connection gone")

// errHandoff tells a waiting sender that it must take over flushing the
// connection's pending messages.
var errHandoff = errors.New("wire: flush handoff")

// errStopped ends a reader that was asked to stop (detach, abort, close).
var errStopped = errors.New("wire: reader stopped")

// errInterrupted ends a receiving token holder's read that was cut short
// (its context ended, its socket closed, or a second connection attached).
var errInterrupted = errors.New("wire: read interrupted")

// errNeedReader tells a receiving token holder that the message at the head
// of the stream must be streamed, which only the reader goroutine does.
var errNeedReader = errors.New("wire: message left to the reader goroutine")

// errPeerClosed is the cause of an abort when the peer closed the
// connection while a message was being written to it.
var errPeerClosed = errors.New("wire: peer closed the connection")
