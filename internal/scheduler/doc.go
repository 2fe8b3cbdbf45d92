// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package scheduler is pollen's scheduler (SPEC S1): it tracks tasks (one
// source object cut into pieces), which peer holds which piece and each
// peer's upload load, and tells a peer, for each piece it should fetch
// next, which parents to fetch it from.
//
// The policy (policy.go) hands out the rarest pieces first, each from
// parents that hold it and have a free upload slot, spread over parents by
// free capacity; it sends a peer to the source only when no peer holds the
// piece (or every holder already failed that peer), and lets at most
// [Config.OriginConcurrency] source fetches of a task run at once (enough to
// keep the origin's link busy while each fetch also waits on round trips
// and verification; idle members are preferred for them), each piece
// fetched from the source once unless that fetch failed, so the origin
// serves about one copy of the file. Every assignment has a deadline: a
// parent dying mid-piece costs that piece only. Peers that leave, fail their
// heartbeats or re-register are dropped from every map and their
// assignments re-scheduled; a peer that served a corrupt piece is never a
// parent in that task again. In stream mode (Join.Window > 0) a peer is
// offered only pieces in its window [una, una+wnd), and una advances as the
// peer acknowledges pieces with PieceDone.
//
// All state is owned by one goroutine, the event loop [Scheduler.Run]. Every
// public method posts a small event (events.go) whose apply method runs on
// that loop, and waits for its result or for its context. [Scheduler] is
// safe for concurrent use. The network server (msg over wire) is a thin
// loop around [Scheduler.Handle], which maps one proto request to its reply;
// the messages and the flow are in docs/scheduler-protocol.md.
package scheduler
