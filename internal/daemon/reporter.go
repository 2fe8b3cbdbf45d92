// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// reporter queues a task's PieceDone and PieceFailed reports for the
// goroutine that sends them to the scheduler ([Daemon.runReports]); file
// and stream tasks embed it.
type reporter struct {
	d       *Daemon
	id      core.TaskID
	reports chan proto.Message // closed by closeReports

	mu     sync.Mutex // orders queueReport with closeReports
	closed bool
}

// reportDone queues a PieceDone for piece i. For a stream task it also
// acknowledges the piece: the scheduler's una moves over it.
func (r *reporter) reportDone(i core.PieceIndex, dg core.Digest) {
	r.reportPieces([]proto.DonePiece{{Index: i, Digest: dg}})
}

// reportPieces queues PieceDone messages for pieces (none for none), at
// most proto.MaxBatch pieces each.
func (r *reporter) reportPieces(pieces []proto.DonePiece) {
	for len(pieces) > 0 {
		k := min(len(pieces), proto.MaxBatch)
		r.queueReport(&proto.PieceDone{Peer: r.d.peer, Task: r.id, Pieces: pieces[:k]})
		pieces = pieces[k:]
	}
}

// reportFailed queues a PieceFailed for piece i fetched from parent.
func (r *reporter) reportFailed(i core.PieceIndex, parent core.PeerID, reason proto.Reason) {
	r.queueReport(&proto.PieceFailed{Peer: r.d.peer, Task: r.id, Index: i, Parent: parent, Reason: reason})
}

// queueReport hands m to the sender without blocking; with no scheduler,
// or a backlog, the report is dropped (the scheduler takes the assignment
// back after its timeout, and a rejoin reports every held piece). After
// closeReports it is dropped too: the task has left, and a report may still
// come from outside its goroutines (a stream consumer's Close evicting).
func (r *reporter) queueReport(m proto.Message) {
	if !r.d.sched.configured() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	select {
	case r.reports <- m:
	default:
	}
}

// closeReports closes the reports queue, once the task's own goroutines
// have queued their last reports; the sender stops after sending them.
func (r *reporter) closeReports() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	close(r.reports)
}
