// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import "sync/atomic"

// Stats is a snapshot of a node's counters, returned by [Node.Stats].
type Stats struct {
	Retransmits     uint64 // requests sent again by this node's Sends
	Connects        uint64 // connections dialed (first and reconnections)
	Sessions        uint64 // remote sessions opened at this node
	Duplicates      uint64 // retransmitted requests recognised (not run again)
	PendingSent     uint64 // "reply pending" answers to duplicates of running requests
	CachedReplies   uint64 // duplicates answered from the reply cache
	Undelivered     uint64 // replies whose first send failed (left in the cache)
	Evicted         uint64 // cached replies dropped for ReplyCacheBytes
	Stale           uint64 // requests below the sender's acknowledgement, dropped
	QueueFull       uint64 // requests refused because the receive queue was full
	GrantViolations uint64 // moves refused by this node as owner of the segment
	BadFrames       uint64 // malformed or unexpected frames dropped
	Aborts          uint64 // connections aborted by wire
	MovedFrom       uint64 // bytes moved into this node by remote MoveFrom
	MovedTo         uint64 // bytes moved out of this node by remote MoveTo
	MoveRetries     uint64 // remote moves started again after a stall or lost connection
	AnswersDropped  uint64 // answers to duplicates dropped: too many queued for the session, or the node closing
	CarriedTaken    uint64 // bytes MoveFrom took from streamed carries, straight from the connection
	CarriesExpired  uint64 // streamed carries released unread after their hold (see [Config.MaxStableCarry])
	RepliedData     uint64 // bytes sent with long replies (ReplyWithSegment beyond MaxCarry), not cached
	ReplyDataTaken  uint64 // bytes of long replies read into this node's segments, straight from the connection
}

type counters struct {
	retransmits, connects, sessions, duplicates, pendingSent, cachedReplies,
	undelivered, evicted, stale, queueFull, grantViolations, badFrames,
	aborts, movedFrom, movedTo, moveRetries, answersDropped,
	carriedTaken, carriesExpired, repliedData, replyDataTaken atomic.Uint64
}

// Stats returns a snapshot of the node's counters. It is safe to call
// concurrently with everything else.
func (n *Node) Stats() Stats {
	c := &n.stats
	return Stats{
		Retransmits:     c.retransmits.Load(),
		Connects:        c.connects.Load(),
		Sessions:        c.sessions.Load(),
		Duplicates:      c.duplicates.Load(),
		PendingSent:     c.pendingSent.Load(),
		CachedReplies:   c.cachedReplies.Load(),
		Undelivered:     c.undelivered.Load(),
		Evicted:         c.evicted.Load(),
		Stale:           c.stale.Load(),
		QueueFull:       c.queueFull.Load(),
		GrantViolations: c.grantViolations.Load(),
		BadFrames:       c.badFrames.Load(),
		Aborts:          c.aborts.Load(),
		MovedFrom:       c.movedFrom.Load(),
		MovedTo:         c.movedTo.Load(),
		MoveRetries:     c.moveRetries.Load(),
		AnswersDropped:  c.answersDropped.Load(),
		CarriedTaken:    c.carriedTaken.Load(),
		CarriesExpired:  c.carriesExpired.Load(),
		RepliedData:     c.repliedData.Load(),
		ReplyDataTaken:  c.replyDataTaken.Load(),
	}
}
