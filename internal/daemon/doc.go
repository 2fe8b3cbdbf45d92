// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package daemon is pollen's per-host daemon (SPEC S1): it downloads tasks
// piece by piece from parents the scheduler names and from the source,
// verifies every piece before it keeps or serves it, stores each task as
// one file written at piece offsets (package piece), serves the pieces it
// holds to other daemons with sendfile, and answers `pollen get` on a
// local Unix socket. docs/design/0003-daemon.md describes the design.
//
// The main types are [Daemon] ([New], [Daemon.Run], [Daemon.Close],
// [Daemon.Download], [Daemon.Stream]), [Config], [Request], the [Transfer]
// a download returns with its [Progress], the [Stream] a stream-mode
// download returns, and [Client], which gives the same download surface
// over the local API.
//
// Stream mode (SPEC S2, design 0004 §1) keeps a task's pieces only in a
// stream.Cache window: no piece.Task, nothing on disk. The stream's loop
// asks the scheduler for no more pieces than the window has room for, so
// a slow consumer stalls the download instead of growing memory; peers
// are served from the window, and pieces it drops are reported Evicted.
//
// The daemon talks to the scheduler only through internal/proto messages
// sent with msg; it never imports the scheduler. A piece moves between
// daemons as one msg Send: the requester sends GetPiece granting write
// access to a buffer of the piece's length, the parent replies with a
// Piece header and the piece, which goes into that buffer (one sendfile
// from its task file behind the header), and the requester hashes and
// writes the bytes, keeping them only
// if they match the digest the scheduler vouches for.
//
// Goroutines (all counted in the daemon's WaitGroup; [Daemon.Close]
// cancels them and waits):
//
//   - serve: receives GetPiece requests and hands each to one of
//     Config.UploadSlots long-lived upload workers (Miss{busy} when all
//     are busy).
//   - keep: registration, reconnection, heartbeats, re-joining seeded
//     tasks, garbage collection.
//   - the local API's HTTP server and its handlers.
//   - per stream, the same shape (streamTask.run): an event loop, fetch
//     workers, one asker, one reporter; then the linger.
//   - per task, the event loop (task.run), which owns the task's state
//     (what is queued, in flight, which mode) and starts and waits for:
//     Config.Concurrency fetch workers, at most one scheduler asker at a
//     time, and one reporter that sends PieceDone/PieceFailed. They talk
//     to the loop over channels; the loop is the only writer of its state.
//   - per [Transfer], one follower that waits for its task and exports the
//     output.
//
// Shared state outside the loops is guarded by mutexes documented on the
// fields (Daemon.mu for the task and seed tables, schedClient.mu for the
// registration, exclusions.mu for excluded parents, progress.mu). Lock order:
// schedClient.regMu before schedClient.mu; Daemon.mu is never held while
// calling the scheduler or a peer. A Daemon, a Client and a Transfer are
// safe for concurrent use.
package daemon
