// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/msg"
)

// worker fetches the jobs it is given until jobs is closed. It owns one
// piece buffer, the segment peers write into.
func (t *task) worker(jobs <-chan job) {
	var buf []byte
	idle := time.Now()
	for j := range jobs {
		tl := timeline{idle: time.Since(idle)}
		r := t.fetch(j, &buf, &tl)
		t.logTimeline(j, r, &tl)
		t.results <- r
		idle = time.Now()
	}
}

// timeline is where one fetch's time went, for the per-piece debug log
// (see [task.logTimeline]): how long its worker waited for a job, then the
// rate limiter, the parent (GetPiece sent until the reply, the bytes
// included) or the source, and storing (hash, write, publish).
type timeline struct {
	idle, rate, get, store time.Duration
}

// logTimeline logs, at debug level, one fetched piece's timeline: what
// `pollen bench push --trace` collects to show where a piece's time goes
// between the scheduler's assignment and its report.
func (t *task) logTimeline(j job, r result, tl *timeline) {
	if !t.log.Enabled(t.ctx, slog.LevelDebug) || r.from == "" {
		return
	}
	var queued time.Duration
	if !j.assigned.IsZero() {
		queued = time.Since(j.assigned) - tl.rate - tl.get - tl.store
	}
	t.log.Debug("daemon: piece fetched", "piece", j.index, "from", r.from, "ok", r.err == nil,
		"idle", tl.idle, "queued", queued, "rate", tl.rate, "get", tl.get, "store", tl.store)
}

// fetch fetches one piece, from the source or from the job's parents in
// order, and stores it verified.
func (t *task) fetch(j job, buf *[]byte, tl *timeline) result {
	if t.st.Has(j.index) {
		return result{job: j}
	}
	r := t.layout.Piece(j.index)
	start := time.Now()
	if err := t.d.down.Wait(t.ctx, r.Len); err != nil {
		return result{job: j, err: err, fatal: true}
	}
	tl.rate = time.Since(start)
	t.d.stats.downloads.Add(1)
	defer t.d.stats.downloads.Add(-1)
	if j.source {
		return t.fetchSource(j, r, tl)
	}
	var last error
	for _, p := range j.parents {
		if t.isExcluded(p.Peer) {
			t.reportFailed(j.index, p.Peer, proto.ReasonCorrupt)
			continue
		}
		err := t.fetchPeer(j, r, p, buf, tl)
		if err == nil {
			t.d.stats.fromPeers.Add(uint64(r.Len))
			t.d.stats.verified.Add(1)
			t.prog.add(p.Addr, false, r.Len)
			return result{job: j, from: p.Addr, done: true, digest: j.digest}
		}
		if t.ctx.Err() != nil {
			return result{job: j, err: t.ctx.Err(), fatal: true}
		}
		t.d.stats.failed.Add(1)
		reason := proto.ReasonUnreachable
		switch {
		case errors.Is(err, piece.ErrDiskFull):
			t.reportFailed(j.index, p.Peer, proto.ReasonLocal)
			return result{job: j, from: p.Addr, err: fmt.Errorf("%w: %w", ErrDiskFull, err), fatal: true}
		case errors.Is(err, piece.ErrClosed):
			return result{job: j, from: p.Addr, err: err, fatal: true}
		case errors.Is(err, errCorrupt):
			t.d.stats.corrupt.Add(1)
			t.exclude(p.Peer)
			reason = proto.ReasonCorrupt
		case errors.Is(err, errMiss):
			reason = proto.ReasonEvicted
		case errors.Is(err, piece.ErrPieceBusy):
			reason = proto.ReasonLocal
		}
		t.log.Debug("daemon: piece from parent failed", "piece", j.index, "parent", p.Addr, "reason", reason, "err", err)
		t.reportFailed(j.index, p.Peer, reason)
		last = pieceErr(j.index, p.Addr, err)
	}
	if last == nil {
		last = fmt.Errorf("daemon: piece %d: no usable parent", j.index)
	}
	return result{job: j, err: last}
}

// fetchPeer asks parent p for the piece (see [Daemon.getPiece]), then
// hashes and writes the bytes to the task file; only a piece that matches
// the scheduler's digest is kept.
func (t *task) fetchPeer(j job, r core.Range, p proto.Parent, buf *[]byte, tl *timeline) error {
	if int64(cap(*buf)) < r.Len {
		*buf = make([]byte, t.layout.PieceSize)
	}
	seg := (*buf)[:r.Len]
	start := time.Now()
	err := t.d.getPiece(t.ctx, t.id, j.index, p.Addr, seg)
	tl.get += time.Since(start)
	if err != nil {
		return err
	}
	start = time.Now()
	err = t.writePiece(j.index, seg, j.digest)
	tl.store += time.Since(start)
	var dm *piece.DigestMismatchError
	if errors.As(err, &dm) && dm.Piece != piece.WholeFile {
		return fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return err
}

// getPiece asks the daemon at addr for piece i of task id. The request
// grants the parent write access to seg, which is the piece's length; the
// parent replies with a Piece header and the piece, written into seg
// (sendfile from its task file, or its stream window's bytes). The bytes are
// not verified here. A Miss is errMiss, a reply that does not fit the
// request errCorrupt.
func (d *Daemon) getPiece(ctx context.Context, id core.TaskID, i core.PieceIndex, addr string, seg []byte) error {
	req := &proto.GetPiece{Task: id, Index: i, Peer: d.peer}
	b, err := req.Append(make([]byte, 0, req.Len()))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PieceTimeout)
	defer cancel()
	rb, err := d.node.SendWithSegment(ctx, "tcp://"+addr, b, msg.Bytes(seg), msg.Write)
	if err != nil {
		return err
	}
	reply, _, err := proto.Parse(rb)
	if err != nil {
		return fmt.Errorf("daemon: bad GetPiece reply: %w", err)
	}
	switch m := reply.(type) {
	case *proto.Miss:
		return fmt.Errorf("%w: %d", errMiss, m.Reason)
	case *proto.Piece:
		if m.Task != id || m.Index != i || int(m.Length) != len(seg) {
			return fmt.Errorf("%w: reply for piece %d of %d bytes", errCorrupt, m.Index, m.Length)
		}
	case *proto.Error:
		return schedError{m}
	default:
		return fmt.Errorf("%w: unexpected %v reply", errCorrupt, reply.Type())
	}
	return nil
}

// fetchSource reads the piece from the origin straight into its place in
// the task file and publishes it, as writePiece does. The origin is trusted per piece (the whole-file digest is
// the check), unless the scheduler already knows the piece's digest.
func (t *task) fetchSource(j job, r core.Range, tl *timeline) result {
	start := time.Now()
	defer func() { tl.get = time.Since(start) }()
	w, err := t.st.NewPieceWriter(j.index)
	switch {
	case errors.Is(err, piece.ErrPiecePresent):
		return result{job: j, from: "source"}
	case errors.Is(err, piece.ErrPieceBusy):
		return result{job: j, from: "source", err: err}
	case err != nil:
		return result{job: j, from: "source", err: fmt.Errorf("daemon: %w", pieceErr(j.index, "source", err)), fatal: true}
	}
	_, err = t.src.ReadRange(t.ctx, r.Off, r.Len, w)
	if err == nil {
		err = w.Publish(j.digest)
	} else {
		w.Abort()
	}
	if err != nil {
		t.d.stats.failed.Add(1)
		if dg := j.digest; !dg.IsZero() {
			t.reportFailed(j.index, core.PeerID{}, proto.ReasonUnreachable)
		}
		var dm *piece.DigestMismatchError
		switch {
		case t.ctx.Err() != nil:
			return result{job: j, from: "source", err: t.ctx.Err(), fatal: true}
		case errors.Is(err, piece.ErrDiskFull):
			return result{job: j, from: "source", err: fmt.Errorf("%w: %w", ErrDiskFull, pieceErr(j.index, "source", err)), fatal: true}
		case errors.As(err, &dm) && dm.Piece == piece.WholeFile:
			return result{job: j, from: "source", err: fmt.Errorf("%w: %w", ErrDigest, err), fatal: true}
		}
		return result{job: j, from: "source", err: fmt.Errorf("%w: %w", ErrSource, pieceErr(j.index, "source", err)), fatal: true}
	}
	dg, _ := t.st.PieceDigest(j.index)
	t.d.stats.fromSource.Add(uint64(r.Len))
	t.d.stats.verified.Add(1)
	t.prog.add("source", true, r.Len)
	return result{job: j, from: "source", done: true, digest: dg}
}

// writePiece stores a piece held in memory with one write (hashing it on
// the way) and publishes it if it matches want: the piece is served and
// reported from the page cache at once, and made durable by the store's
// group commit in the background (a failure there fails the task, see
// [task.storeErr]).
func (t *task) writePiece(i core.PieceIndex, b []byte, want core.Digest) error {
	w, err := t.st.NewPieceWriter(i)
	if errors.Is(err, piece.ErrPiecePresent) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return err
	}
	return w.Publish(want)
}
