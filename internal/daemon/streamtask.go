// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/source"
	"github.com/pollen-dev/pollen/internal/stream"
)

// A streamTask is one stream-mode download (SPEC S2, design 0004 §1). It
// has no piece.Task: pieces go into a stream.Cache, a memory window
// [read, read+wnd) that the consumer drains in order, and nowhere else.
// Its state belongs to the goroutine running [streamTask.run] (the event
// loop); fetch workers, the scheduler asker and the reporter talk to it
// through channels, as in file mode.
//
// Flow control: the loop asks the scheduler for at most cache.Free()
// pieces and reserves a piece's buffer in the cache before it hands the
// job to a worker, so a slow consumer stops the asking (the window is
// full) instead of growing memory. The scheduler's una for this peer
// moves on the PieceDone sent at each Commit.
type streamTask struct {
	reporter // d, id and the reports queue (loop, workers and OnEvict; closed at the end of run)
	url      string
	layout   core.Layout
	src      source.Source
	manifest []core.Digest // trusted per-piece digests, or nil
	cache    *stream.Cache
	log      *slog.Logger

	ctx    context.Context // cancelled when the daemon closes or a new request replaces a lingering stream
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	results chan streamResult // workers → loop
	asks    chan askResult    // asker → loop; capacity 1

	gone     chan struct{} // closed when the consumer let go (Stream.Close)
	goneOnce sync.Once
	linger   atomic.Bool // every piece was fetched and the consumer let go: only serving peers

	prog progress

	exclusions // parents that served a corrupt piece
}

// A streamJob is one piece to fetch into buf, the cache's reserved buffer.
type streamJob struct {
	index   core.PieceIndex
	source  bool
	digest  core.Digest // expected SHA-256; zero when unknown
	parents []proto.Parent
	buf     []byte
}

// A streamResult is what a worker made of a job. The worker has already
// committed the piece (err nil) or released its reservation.
type streamResult struct {
	job   streamJob
	err   error
	fatal bool // err ends the stream
}

// newStreamTask returns the task for a stream of id; the caller starts run.
func (d *Daemon) newStreamTask(id core.TaskID, req Request, layout core.Layout, src source.Source) (*streamTask, error) {
	wnd := cmp.Or(req.Window, d.cfg.StreamWindow, stream.WindowFor(layout.PieceSize))
	if wnd < 0 || wnd > stream.MaxWindow {
		return nil, fmt.Errorf("%w: window %d outside [1, %d]", ErrBadRequest, wnd, stream.MaxWindow)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	t := &streamTask{
		reporter: reporter{d: d, id: id, reports: make(chan proto.Message, 4096)},
		url:      req.URL, layout: layout, src: src, manifest: req.PieceDigests,
		log:     d.log.With("task", id.Short(), "mode", "stream"),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		results: make(chan streamResult, d.cfg.Concurrency),
		asks:    make(chan askResult, 1),
		gone:    make(chan struct{}),
	}
	c, err := stream.New(stream.Config{Layout: layout, Window: wnd, Digest: req.Digest, OnEvict: t.evicted})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	t.cache = c
	t.prog.init(layout, 0, 0)
	return t, nil
}

// evicted is the cache's OnEvict: pieces that left the window are reported
// to the scheduler (proto.Evicted), so it stops offering this daemon as
// their parent. It never blocks. After closeReports it reports nothing:
// the task has left.
func (t *streamTask) evicted(ev []core.PieceIndex) {
	for len(ev) > 0 {
		k := min(len(ev), proto.MaxBatch)
		m := &proto.Evicted{Peer: t.d.peer, Task: t.id, Indices: make([]uint32, k)}
		for j, i := range ev[:k] {
			m.Indices[j] = uint32(i)
		}
		t.queueReport(m)
		ev = ev[k:]
	}
}

// consumerGone records that the consumer let go of the stream.
func (t *streamTask) consumerGone() { t.goneOnce.Do(func() { close(t.gone) }) }

// run is the task's life: fetch every piece, then linger serving peers
// until the consumer has let go and StreamLinger has passed, then leave
// the task. A failed fetch closes the cache with the error, which the
// consumer gets in place of the end of the stream.
func (t *streamTask) run() {
	defer close(t.done)
	var reporter sync.WaitGroup
	reporter.Go(func() { t.d.runReports(t.reports) })
	err := t.fetchAll()
	if err == nil {
		t.lingerThenClose()
	} else {
		if t.d.ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ErrClosed, err) // the daemon is shutting down
		}
		t.log.Debug("daemon: stream ended", "err", err)
		_ = t.cache.CloseWithError(err)
	}
	t.queueReport(&proto.Leave{Peer: t.d.peer, Task: t.id})
	t.closeReports()
	reporter.Wait()
	_ = t.src.Close()
	t.d.forgetStream(t)
}

// lingerThenClose keeps the window served to peers after the last piece
// arrived: until the consumer let go, then for StreamLinger. A daemon
// closing meanwhile ends the consumer's stream with ErrClosed.
func (t *streamTask) lingerThenClose() {
	select {
	case <-t.gone:
	case <-t.ctx.Done():
		_ = t.cache.CloseWithError(ErrClosed)
		return
	}
	t.linger.Store(true)
	timer := time.NewTimer(t.d.cfg.StreamLinger)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-t.ctx.Done():
	}
	_ = t.cache.Close() // reports the pieces still held as evicted
}

// fetchAll fetches every piece into the cache. It returns nil once every
// piece has been added, else why it stopped.
func (t *streamTask) fetchAll() error {
	n := t.layout.Pieces()
	conc := t.d.cfg.Concurrency
	jobs := make(chan streamJob)
	var workers, asker sync.WaitGroup
	for range conc {
		workers.Go(func() {
			for j := range jobs {
				t.results <- t.fetch(j)
			}
		})
	}
	var queue []streamJob
	defer func() {
		close(jobs)
		// Drain the results of the jobs still in flight: each worker
		// commits or releases its piece before it reports.
		go func() {
			workers.Wait()
			close(t.results)
		}()
		for range t.results {
		}
		asker.Wait()
		for _, j := range queue {
			_ = t.cache.Release(j.index)
		}
	}()

	mode := modeScheduler
	if !t.d.sched.configured() {
		mode = modeSource
	}
	var (
		inflight   = map[core.PieceIndex]bool{}      // handed to a worker
		reassigned = map[core.PieceIndex]streamJob{} // assigned again while in flight (the failure report was faster)
		rounds     = map[core.PieceIndex]int{}
		srcRunning int
		asking     bool
		joined     uint64
		nextAsk    time.Time
		lastErr    error
		stalled    bool
		lastMove   = time.Now()
		wanted     []core.PieceIndex
	)
	// reserve claims piece j.index in the cache and queues the job.
	reserve := func(j streamJob) error {
		buf, err := t.cache.Reserve(j.index)
		if err != nil {
			return err
		}
		j.buf = buf
		queue = append(queue, j)
		return nil
	}
	fillFromSource := func() {
		srcQueued := 0
		for _, j := range queue {
			if j.source {
				srcQueued++
			}
		}
		wanted = t.cache.Wanted(wanted[:0])
		for _, i := range wanted {
			if srcRunning+srcQueued >= t.d.cfg.SourceConcurrency || len(inflight)+len(queue) >= conc {
				break
			}
			if reserve(streamJob{index: i, source: true, digest: t.digest(i, core.Digest{})}) == nil {
				srcQueued++
			}
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if t.cache.Una() == core.PieceIndex(n) {
			return nil
		}
		changed := t.cache.Changed()
		now := time.Now()
		free := t.cache.Free() // pieces of the window neither held nor reserved (queued jobs are reserved)
		room := min(conc-len(inflight)-len(queue), free)
		if free == 0 {
			lastMove = now // waiting for the consumer is not a stall
		}
		if mode == modeScheduler && !stalled && len(inflight) == 0 && len(queue) == 0 && now.Sub(lastMove) > t.d.cfg.StallTimeout {
			t.log.Warn("daemon: scheduler assigns nothing, fetching from the source", "for", now.Sub(lastMove).Round(time.Millisecond))
			stalled = true
		}
		if mode == modeSource || stalled {
			fillFromSource()
			room = min(conc-len(inflight)-len(queue), t.cache.Free())
		}
		if !asking && t.d.sched.configured() && !now.Before(nextAsk) && room > 0 {
			asking = true
			k := min(room, proto.MaxBatch)
			asker.Go(func() { t.asks <- t.ask(joined, k) })
		}
		var out chan streamJob
		var head streamJob
		if len(queue) > 0 {
			out, head = jobs, queue[0]
		}
		var tc <-chan time.Time
		if !asking && t.d.sched.configured() && room > 0 {
			timer.Reset(max(time.Until(nextAsk), time.Millisecond))
			tc = timer.C
		} else if mode == modeScheduler && !stalled && len(inflight) == 0 && len(queue) == 0 && free > 0 {
			timer.Reset(max(t.d.cfg.StallTimeout-now.Sub(lastMove), 0) + time.Millisecond)
			tc = timer.C
		}
		select {
		case out <- head:
			queue = queue[1:]
			inflight[head.index] = true
			if head.source {
				srcRunning++
			}
		case r := <-t.results:
			delete(inflight, r.job.index)
			if r.job.source {
				srcRunning--
			}
			again, ok := reassigned[r.job.index]
			delete(reassigned, r.job.index)
			if r.err == nil {
				// A second assignment is released by the PieceDone queued
				// at the commit.
				lastMove = time.Now()
				nextAsk = time.Time{}
				continue
			}
			if r.fatal {
				return r.err
			}
			lastErr = r.err
			rounds[r.job.index]++
			if ok {
				// The scheduler already gave the piece out again (the
				// worker reported the failure before it gave the result):
				// take that assignment now.
				if err := reserve(again); errors.Is(err, stream.ErrClosed) {
					return ErrCanceled
				}
			} else if mode == modeSource || rounds[r.job.index] >= maxPeerRounds {
				// The scheduler's parents are exhausted: go to the source.
				if err := reserve(streamJob{index: r.job.index, source: true, digest: r.job.digest}); errors.Is(err, stream.ErrClosed) {
					return ErrCanceled
				}
			}
		case a := <-t.asks:
			asking = false
			if a.err != nil {
				joined, mode, nextAsk = t.d.askFailed(t.ctx, t.log, a, mode, nextAsk)
				continue
			}
			joined = a.gen
			if mode == modeSource {
				t.log.Info("daemon: scheduler back")
				mode = modeScheduler
			}
			sc := a.sched
			switch sc.State {
			case proto.StateAssigned:
				refused, err := t.accept(sc.Assignments, inflight, reassigned, reserve)
				if err != nil {
					return err
				}
				switch {
				case refused > 0:
					// The scheduler's window [una, una+wnd) reaches past the
					// cache's [read, read+wnd) while the consumer is inside a
					// piece, or it has not yet seen a report that frees a
					// piece the cache wants: ask again a little later, not
					// at once, or the two would trade the same refusal.
					nextAsk = time.Now().Add(refusedRetry)
				case len(sc.Assignments) == 0:
					nextAsk = time.Now().Add(100 * time.Millisecond)
				}
				if len(sc.Assignments) > 0 {
					// Even assignments the window refused show the
					// scheduler is handing pieces out: not a stall.
					lastMove = time.Now()
					stalled = false
				}
			case proto.StateWait:
				nextAsk = time.Now().Add(min(time.Duration(sc.RetryMillis)*time.Millisecond, time.Second))
			case proto.StateDone:
				// The scheduler counts every piece as acknowledged but the
				// window disagrees: join again to resynchronize.
				joined = 0
				nextAsk = time.Now().Add(100 * time.Millisecond)
			}
		case <-changed: // the consumer moved the window, or a piece was committed or released
		case <-tc:
		case <-t.gone:
			return fmt.Errorf("%w: the consumer left", ErrCanceled)
		case <-t.ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w (last failure: %w)", ErrCanceled, lastErr)
			}
			return ErrCanceled
		}
	}
}

// refusedRetry is how long a stream waits before asking again after it
// had to hand assignments back.
const refusedRetry = 20 * time.Millisecond

// accept reserves the cache's buffers for a schedule's assignments, in
// index order, and queues their jobs. A piece the window cannot take now
// is handed back (PieceFailed{local}) and counted in refused; one it
// already has is acknowledged again.
func (t *streamTask) accept(as []proto.Assignment, inflight map[core.PieceIndex]bool, reassigned map[core.PieceIndex]streamJob, reserve func(streamJob) error) (refused int, err error) {
	slices.SortFunc(as, func(a, b proto.Assignment) int { return cmp.Compare(a.Index, b.Index) })
	for _, a := range as {
		i := a.Index
		if !t.layout.Contains(i) {
			continue
		}
		j := streamJob{index: i, source: a.Source, digest: t.digest(i, a.Digest), parents: a.Parents}
		if !j.source && j.digest.IsZero() {
			// A parent whose digest nobody vouches for cannot be verified.
			j.source, j.parents = true, nil
		}
		if inflight[i] {
			// Its worker has not reported yet; if it failed, this
			// assignment is the next attempt. Dropping it would leave the
			// scheduler waiting on it until its timeout.
			reassigned[i] = j
			continue
		}
		err := reserve(j)
		switch {
		case err == nil:
		case errors.Is(err, stream.ErrReserved): // being fetched already
		case errors.Is(err, stream.ErrDuplicate):
			// Received before (the scheduler missed the report): acknowledge
			// it, and say at once if it has left the window.
			t.reportDone(i, core.Digest{})
			if !t.cache.Holds(i) {
				t.evicted([]core.PieceIndex{i})
			}
		case errors.Is(err, stream.ErrClosed):
			return refused, fmt.Errorf("%w: the consumer left", ErrCanceled)
		default: // outside the window
			t.log.Debug("daemon: assignment outside the stream window", "piece", i, "err", err)
			t.reportFailed(i, core.PeerID{}, proto.ReasonLocal)
			refused++
		}
	}
	return refused, nil
}

// digest is the digest piece i must have: the manifest's, else the
// scheduler's (zero when unknown).
func (t *streamTask) digest(i core.PieceIndex, sched core.Digest) core.Digest {
	if t.manifest != nil {
		return t.manifest[i]
	}
	return sched
}

// ask joins the task again (see [streamTask.join]) if the registration
// changed since joined, then asks the scheduler for up to k pieces. It
// runs on its own goroutine.
func (t *streamTask) ask(joined uint64, k int) askResult {
	return t.d.askPieces(t.ctx, t.id, joined, k, nil, t.join)
}

// join joins the task in stream mode under registration gen. After a
// re-registration the scheduler has forgotten the peer: the Join declares
// every piece received so far ([0, una)), so the window starts where the
// consumer is, and an Evicted follows for those no longer held.
func (t *streamTask) join(addr string, gen uint64) error {
	join := &proto.Join{Peer: t.d.peer, Task: t.id, Layout: t.layout, URL: t.url, Window: uint16(t.cache.Window())}
	if len(t.url) > proto.MaxURLLen {
		join.URL = t.url[:proto.MaxURLLen]
	}
	una := t.cache.Una()
	var gone []core.PieceIndex
	if una > 0 {
		join.Have = make([]byte, (t.layout.Pieces()+7)/8)
		for i := range una {
			proto.BitmapSet(join.Have, i)
			if !t.cache.Holds(i) {
				gone = append(gone, i)
			}
		}
	}
	if _, err := t.d.sched.call(t.ctx, addr, gen, join, 0); err != nil {
		return fmt.Errorf("daemon: join task %s: %w", t.id.Short(), err)
	}
	t.evicted(gone)
	return nil
}

// fetch fetches one piece into the job's buffer, from the source or from
// the parents in order, verifies it and commits it to the cache; on
// failure it releases the reservation.
func (t *streamTask) fetch(j streamJob) streamResult {
	r := t.layout.Piece(j.index)
	if err := t.d.down.Wait(t.ctx, r.Len); err != nil {
		_ = t.cache.Release(j.index)
		return streamResult{job: j, err: err, fatal: true}
	}
	t.d.stats.downloads.Add(1)
	defer t.d.stats.downloads.Add(-1)
	if j.source {
		return t.fetchSource(j, r)
	}
	var last error
	for _, p := range j.parents {
		if t.isExcluded(p.Peer) {
			t.reportFailed(j.index, p.Peer, proto.ReasonCorrupt)
			continue
		}
		err := t.d.getPiece(t.ctx, t.id, j.index, p.Addr, j.buf)
		if err == nil && core.DigestOf(j.buf) != j.digest {
			err = fmt.Errorf("%w: piece %d does not match its digest", errCorrupt, j.index)
		}
		if err == nil {
			t.d.stats.fromPeers.Add(uint64(r.Len))
			return t.commit(j, p.Addr, j.digest)
		}
		if t.ctx.Err() != nil {
			_ = t.cache.Release(j.index)
			return streamResult{job: j, err: t.ctx.Err(), fatal: true}
		}
		t.d.stats.failed.Add(1)
		reason := proto.ReasonUnreachable
		switch {
		case errors.Is(err, errCorrupt):
			t.d.stats.corrupt.Add(1)
			t.exclude(p.Peer)
			reason = proto.ReasonCorrupt
		case errors.Is(err, errMiss):
			reason = proto.ReasonEvicted
		}
		t.log.Debug("daemon: piece from parent failed", "piece", j.index, "parent", p.Addr, "reason", reason, "err", err)
		// Told at once, not queued: once the reservation is released below
		// the cache wants the piece again, and a request that reached the
		// scheduler before this report would be offered the next piece,
		// which the window cannot take.
		if t.d.sched.configured() {
			t.d.sendReport(&proto.PieceFailed{Peer: t.d.peer, Task: t.id, Index: j.index, Parent: p.Peer, Reason: reason})
		}
		last = pieceErr(j.index, p.Addr, err)
	}
	if last == nil {
		last = fmt.Errorf("daemon: piece %d: no usable parent", j.index)
	}
	_ = t.cache.Release(j.index)
	return streamResult{job: j, err: last}
}

// fetchSource reads the piece from the origin into the job's buffer. The
// origin is trusted per piece unless its digest is known; the piece is
// hashed for the scheduler, which hands the digest to later fetchers.
func (t *streamTask) fetchSource(j streamJob, r core.Range) streamResult {
	w := &sliceWriter{b: j.buf}
	_, err := t.src.ReadRange(t.ctx, r.Off, r.Len, w)
	if err == nil && w.n != len(j.buf) {
		err = fmt.Errorf("short piece: %d of %d bytes", w.n, len(j.buf))
	}
	var dg core.Digest
	if err == nil && (t.d.sched.configured() || !j.digest.IsZero()) {
		dg = core.DigestOf(j.buf)
		if !j.digest.IsZero() && dg != j.digest {
			err = fmt.Errorf("piece does not match its digest %s (the object changed?)", j.digest)
		}
	}
	if err != nil {
		_ = t.cache.Release(j.index)
		t.d.stats.failed.Add(1)
		if !j.digest.IsZero() {
			t.reportFailed(j.index, core.PeerID{}, proto.ReasonUnreachable)
		}
		if t.ctx.Err() != nil {
			return streamResult{job: j, err: t.ctx.Err(), fatal: true}
		}
		return streamResult{job: j, err: fmt.Errorf("%w: %w", ErrSource, pieceErr(j.index, "source", err)), fatal: true}
	}
	t.d.stats.fromSource.Add(uint64(r.Len))
	return t.commit(j, "source", dg)
}

// commit adds the verified piece to the cache and reports it.
func (t *streamTask) commit(j streamJob, from string, dg core.Digest) streamResult {
	if err := t.cache.Commit(j.index); err != nil {
		// Closed: the consumer left or the stream failed meanwhile.
		return streamResult{job: j, err: fmt.Errorf("%w: %w", ErrCanceled, err), fatal: true}
	}
	n := int64(len(j.buf))
	t.d.stats.verified.Add(1)
	t.prog.add(from, from == "source", n)
	t.reportDone(j.index, dg)
	return streamResult{job: j}
}

// sliceWriter fills b from the start; writing past its end is an error.
type sliceWriter struct {
	b []byte
	n int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, errors.New("daemon: source sent more than the piece")
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}
