// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package msg is pollen's message passing layer in the style of the V
// kernel: a synchronous [Node.Send] that blocks until the receiver's
// [Request.Reply], small bounded messages, and bulk data moved separately
// through segments that the sender grants for the duration of one Send
// ([Request.MoveFrom], [Request.MoveTo], [Node.ReceiveWithSegment],
// [Request.ReplyWithSegment]). A readable memory segment of up to
// [Config.MaxStableCarry] bytes travels with its request, so a MoveFrom of
// it costs no round trip beyond the Send's.
//
// The same calls work between nodes in one process ("inproc://name", channel
// hand-offs and direct copies), between processes over a Unix socket
// ("unix:///path") and between hosts over TCP ("tcp://host:port"); the two
// socket transports run pollen frames over a [wire.Mux].
// docs/msg-protocol.md describes the frames byte by byte.
//
// Remote requests carry ids (a session chosen by the sending node and a
// sequence number). The receiving node keeps, per session, the state of each
// request it has seen and a cache of the replies the sender has not yet
// acknowledged, so a Send retransmitted after a lost connection gets the
// cached reply, or "reply pending" while the request is still being served,
// and the request never runs twice.
//
// Concurrency: a [Node] is safe for concurrent use; any number of goroutines
// may Send and Receive on it at once. A [Request] belongs to the goroutine
// that received it until it is answered; its methods are safe to call
// concurrently, and after Reply every method returns [ErrNotAwaitingReply].
// Segment memory granted to a Send must not be modified by the caller until
// the Send returns; the node never touches it afterwards.
package msg
