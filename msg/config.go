// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a [Node]. The zero value means "defaults".
type Config struct {
	// MaxMessage bounds a message and a reply. 0 means 64 KiB.
	MaxMessage int
	// MaxCarry bounds the segment bytes that travel with a request
	// (delivered by [Node.ReceiveWithSegment]). A reply's segment data
	// ([Request.ReplyWithSegment]) up to MaxCarry is kept in the reply
	// cache with the reply; longer data is not (see there). 0 means 64 KiB.
	MaxCarry int
	// MaxStableCarry bounds the bytes of a memory segment ([Bytes]) granted
	// with [Read] that travel with the request behind the message (a
	// stable carry: the caller does not change the segment until Send
	// returns), when that is more than MaxCarry. The receiver leaves such
	// a carry on its connection, unbuffered, and its MoveFrom reads it
	// straight into the destination, with no move-from round trip; a
	// carry no MoveFrom takes within a short hold is skipped, and the
	// connection goes on. File segments carry MaxCarry bytes at most.
	// 0 means 1 MiB; a value at most MaxCarry carries MaxCarry bytes, as
	// for files. At most MaxFrameData - MaxMessage.
	MaxStableCarry int
	// MaxChunk bounds the data in one move frame this node sends, at most
	// MaxFrameData (every node accepts that much); longer moves are sent as
	// several frames and acknowledged once. 0 means 4 MiB.
	MaxChunk int
	// ReceiveQueue is the number of requests waiting for [Node.Receive].
	// A remote request that finds the queue full is answered "reply
	// pending" and retransmitted by its sender later. 0 means 1024.
	ReceiveQueue int
	// Window bounds a session's outstanding remote requests: a Send waits
	// while Window earlier Sends to the same destination are unanswered.
	// The receiver refuses more than Window running requests per session.
	// 0 means 1024.
	Window int
	// RetransmitInterval is how long a remote Send waits for a reply or a
	// "reply pending" before it retransmits, reconnecting if the previous
	// retransmission got no answer. 0 means 1s.
	RetransmitInterval time.Duration
	// MaxRetransmits is how many retransmissions in a row may go
	// unanswered before Send fails with [ErrUnreachable]. 0 means 5.
	MaxRetransmits int
	// ReplyTimeout bounds how long a remote Reply waits for a connection to
	// the sender; an undelivered reply stays in the reply cache for the
	// sender's retransmission. 0 means RetransmitInterval.
	ReplyTimeout time.Duration
	// SessionTTL is how long the receiver keeps an idle session's state
	// (its reply cache) after the session's last frame. It must exceed
	// RetransmitInterval × (MaxRetransmits+1). 0 means 5 minutes.
	SessionTTL time.Duration
	// MaxSessions bounds the remote sessions a node keeps; a connection
	// for a new session beyond it is refused. 0 means 4096.
	MaxSessions int
	// ReplyCacheBytes bounds the bytes of cached replies per session;
	// beyond it the oldest replies are dropped and a retransmission of
	// their request gets [ErrReplyLost] instead of running again.
	// 0 means 4 MiB.
	ReplyCacheBytes int
	// Dial opens transport connections; network is "tcp" or "unix". Nil
	// means a net.Dialer. Tests use it to cut connections.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Logger receives rare events (refused sessions, aborted connections);
	// nothing is logged per message. Nil means discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxMessage, 64<<10)
	def(&c.MaxCarry, 64<<10)
	def(&c.MaxStableCarry, min(1<<20, max(MaxFrameData-c.MaxMessage, 1)))
	def(&c.MaxChunk, 4<<20)
	def(&c.ReceiveQueue, 1024)
	def(&c.Window, 1024)
	def(&c.MaxRetransmits, 5)
	def(&c.MaxSessions, 4096)
	def(&c.ReplyCacheBytes, 4<<20)
	if c.RetransmitInterval == 0 {
		c.RetransmitInterval = time.Second
	}
	if c.ReplyTimeout == 0 {
		c.ReplyTimeout = c.RetransmitInterval
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 5 * time.Minute
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	pos := func(name string, v int, max int) {
		if v < 0 || v > max {
			errs = append(errs, fmt.Errorf("msg: %s %d out of range [0, %d]", name, v, max))
		}
	}
	pos("MaxMessage", c.MaxMessage, MaxFrameData)
	pos("MaxCarry", c.MaxCarry, MaxFrameData)
	pos("MaxChunk", c.MaxChunk, MaxFrameData)
	pos("MaxStableCarry", c.MaxStableCarry, max(MaxFrameData-c.MaxMessage, 0))
	if c.MaxMessage+c.MaxCarry > MaxFrameData {
		errs = append(errs, fmt.Errorf("msg: MaxMessage + MaxCarry = %d exceeds %d", c.MaxMessage+c.MaxCarry, MaxFrameData))
	}
	pos("ReceiveQueue", c.ReceiveQueue, 1<<20)
	pos("Window", c.Window, 1<<20)
	pos("MaxRetransmits", c.MaxRetransmits, 1<<20)
	pos("MaxSessions", c.MaxSessions, 1<<24)
	pos("ReplyCacheBytes", c.ReplyCacheBytes, 1<<30)
	if c.RetransmitInterval < 0 || c.ReplyTimeout < 0 {
		errs = append(errs, errors.New("msg: negative RetransmitInterval or ReplyTimeout"))
	}
	if c.SessionTTL <= c.RetransmitInterval*time.Duration(c.MaxRetransmits+1) {
		errs = append(errs, fmt.Errorf("msg: SessionTTL %v must exceed RetransmitInterval × (MaxRetransmits+1) = %v",
			c.SessionTTL, c.RetransmitInterval*time.Duration(c.MaxRetransmits+1)))
	}
	return errors.Join(errs...)
}

// MaxFrameData is the protocol's bound on the variable part of a frame (a
// message with its carried segment bytes, or a move frame's data). Every
// node accepts frames up to MaxFrameData plus their fixed fields, whatever
// its own limits, so nodes with different configurations interoperate.
const MaxFrameData = 4 << 20

// wireMaxMessage is the wire message limit: the longest frame of the
// protocol, a reply with MaxFrameData bytes of data behind a message of
// at most MaxFrameData. Frames that long are streamed, never buffered.
func (c Config) wireMaxMessage() int {
	return 2*MaxFrameData + maxFrameOverhead
}

// stableCarry is the longest stable carry a Send of m bytes sends.
func (c Config) stableCarry(m int) int {
	return min(max(c.MaxStableCarry, c.MaxCarry), MaxFrameData-m)
}

// pushHold is how long a receiver leaves a streamed carry on its
// connection for a MoveFrom to take: the connection reads nothing else
// meanwhile (later requests, other moves' data, retransmissions of the
// session wait behind it), so it is short against RetransmitInterval.
func (c Config) pushHold() time.Duration {
	return min(maxPushHold, c.RetransmitInterval/4)
}

// maxPushHold bounds pushHold.
const maxPushHold = 5 * time.Millisecond

// streamThreshold is the size from which wire streams a message instead of
// buffering it: only move data is ever that long, and it is read straight
// into its destination.
func (c Config) streamThreshold() int {
	return c.MaxMessage + c.MaxCarry + maxFrameOverhead + 1
}
