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
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/source"
)

// A task is one download in progress. Its state belongs to the goroutine
// running [task.run] (the event loop); fetch workers, the scheduler asker
// and the reporter talk to it through channels. What other goroutines read
// (progress) is in prog, which has its own lock.
type task struct {
	reporter // d, id and the reports queue
	url      string
	layout   core.Layout
	src      source.Source
	st       *piece.Task // pinned while the task runs
	// manifest is the trusted per-piece digests the task was created with,
	// or nil. The store checks every piece against it; the loop uses it
	// in place of the scheduler's digests.
	manifest []core.Digest
	log      *slog.Logger

	ctx    context.Context // cancelled when the last transfer leaves or the daemon closes
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned; err is then set
	err    error

	results chan result    // workers → loop
	asks    chan askResult // asker → loop; a slot for every request that may be out

	prog progress

	exclusions // parents that served a corrupt piece

	refs int // transfers attached; guarded by d.mu

	joined uint64 // registration the task was last joined under; written by the loop before done closes
}

// A job is one piece to fetch: from the source, or from parents in order.
type job struct {
	index   core.PieceIndex
	source  bool
	digest  core.Digest // expected SHA-256; zero when unknown
	parents []proto.Parent
	// assigned is when the schedule that assigned the job reached the
	// loop (zero for the daemon's own source jobs): the piece timeline's
	// debug log measures the job's wait for a worker from it.
	assigned time.Time
}

// A result is what a worker made of a job.
type result struct {
	job   job
	from  string // "source" or the parent's address
	err   error  // nil: the piece is stored and verified
	fatal bool   // err ends the download (disk full, source gave up, closed)
	// done is set when the job stored the piece: the loop reports it to
	// the scheduler with digest, in its next RequestPieces or a PieceDone.
	done   bool
	digest core.Digest
}

// askResult is the answer of one scheduler round trip.
type askResult struct {
	gen   uint64 // registration the task is now joined under
	sched *proto.Schedule
	err   error
	took  time.Duration // the round trip, parked time included (debug log)
	// The request's download slots and the pieces it reported (file
	// tasks), which the task reports again when err is set.
	max  int
	done []proto.DonePiece
}

// Task loop modes.
const (
	modeScheduler = iota // pieces come as the scheduler assigns them
	modeSource           // no usable scheduler: every piece from the source
)

// maxPeerRounds is how many assignments of a piece may fail on every
// parent before the daemon fetches it from the source itself.
const maxPeerRounds = 2

// run is the task's event loop. It returns when the task is complete, has
// failed, or its context ends.
func (t *task) run() {
	defer close(t.done)
	err := t.loop()
	t.err = err
	t.st.Release()
	_ = t.src.Close()
	if err == nil {
		t.d.finished(t)
		return
	}
	t.d.forget(t)
	var dm *piece.DigestMismatchError
	if errors.As(err, &dm) && dm.Piece == piece.WholeFile {
		if derr := t.d.store.Delete(t.id); derr != nil && !errors.Is(derr, piece.ErrInUse) {
			t.log.Warn("daemon: delete task after digest mismatch", "err", derr)
		}
	}
}

func (t *task) loop() error {
	n := t.layout.Pieces()
	conc := t.d.cfg.Concurrency
	jobs := make(chan job)
	var workers sync.WaitGroup
	for range conc {
		workers.Add(1)
		go func() {
			defer workers.Done()
			t.worker(jobs)
		}()
	}
	var reporter sync.WaitGroup
	reporter.Add(1)
	go func() {
		defer reporter.Done()
		t.report()
	}()
	var asker sync.WaitGroup
	var joined uint64
	// The requests still out when the loop ends are abandoned, not waited
	// for: a parked one would hold the finished download up to its wait.
	askCtx, cancelAsks := context.WithCancel(t.ctx)
	// done holds a piece stored since the last turn, to report with the
	// RequestPieces its free slot sends, or on its own if none goes: one
	// round trip per piece instead of two.
	var done []proto.DonePiece
	defer func() {
		t.joined = joined
		close(jobs)
		cancelAsks()
		workers.Wait() // results is large enough for every outstanding job
		asker.Wait()
		// Pieces no request reported go by PieceDone: the last one taken,
		// those of abandoned requests, and those whose results the loop
		// did not take (it ends as soon as the store completes, which
		// the last piece's commit may do before its worker hands the
		// result over).
		for len(t.asks) > 0 {
			if a := <-t.asks; a.err != nil {
				done = append(done, a.done...)
			}
		}
		for len(t.results) > 0 {
			if r := <-t.results; r.err == nil && r.done {
				done = append(done, proto.DonePiece{Index: r.job.index, Digest: r.digest})
			}
		}
		t.reportPieces(done)
		t.closeReports()
		reporter.Wait()
	}()

	mode := modeScheduler
	if !t.d.sched.configured() {
		mode = modeSource
	}
	var (
		queue      []job
		inflight   = map[core.PieceIndex]bool{}
		queued     = map[core.PieceIndex]bool{}
		rounds     = map[core.PieceIndex]int{}
		srcRunning int
		// asking counts the RequestPieces out, which hold reserved of
		// the download slots (their max). Another goes out while some
		// are parked when a piece completes: it frees a slot, and the
		// request that asks for that slot reports the piece.
		asking, reserved int
		nextAsk          time.Time // scheduler mode: next RequestPieces; source mode: next reconnect
		lastErr          error
		stalled          bool         // the scheduler gave nothing for StallTimeout: take from the source
		lastMove         = time.Now() // last time a piece completed or was handed out
	)
	present := t.st.Bitmap()
	missing := func(i core.PieceIndex) bool { return !present[i] && !inflight[i] && !queued[i] }
	enqueue := func(j job) {
		queue = append(queue, j)
		queued[j.index] = true
	}
	// fillFromSource queues missing pieces for the source, in order, within
	// SourceConcurrency.
	fillFromSource := func() {
		srcQueued := 0
		for _, j := range queue {
			if j.source {
				srcQueued++
			}
		}
		for i := 0; i < n && srcRunning+srcQueued < t.d.cfg.SourceConcurrency; i++ {
			if missing(core.PieceIndex(i)) {
				enqueue(job{index: core.PieceIndex(i), source: true})
				srcQueued++
			}
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if t.st.Complete() {
			return nil
		}
		if err := t.storeErr(); err != nil {
			return err
		}
		now := time.Now()
		free := conc - len(inflight) - len(queue) - reserved
		if mode == modeScheduler && !stalled && len(inflight) == 0 && len(queue) == 0 &&
			now.Sub(lastMove) > t.d.cfg.StallTimeout {
			t.log.Warn("daemon: scheduler assigns nothing, fetching from the source", "for", now.Sub(lastMove).Round(time.Millisecond))
			stalled = true
		}
		if mode == modeSource || stalled {
			fillFromSource()
		}
		// A reconnection probe (source mode), or a request before the task
		// is joined, goes alone; otherwise one per free slot may be out.
		canAsk := t.d.sched.configured() &&
			(asking == 0 || (mode == modeScheduler && joined != 0 && free > 0)) &&
			(free > 0 || mode == modeSource)
		if canAsk && !now.Before(nextAsk) {
			max := max(1, min(free, proto.MaxBatch))
			asking++
			reserved += max
			done, joined := done, joined
			asker.Add(1)
			go func() {
				defer asker.Done()
				a := t.ask(askCtx, joined, max, done)
				a.max, a.done = max, done
				t.asks <- a
			}()
		} else {
			// No request goes now: report the pieces on their own, at once.
			t.reportPieces(done)
		}
		done = nil
		var out chan job
		var head job
		if len(queue) > 0 {
			out, head = jobs, queue[0]
		}
		var tc <-chan time.Time
		if canAsk && now.Before(nextAsk) {
			timer.Reset(max(time.Until(nextAsk), time.Millisecond))
			tc = timer.C
		} else if mode == modeScheduler && !stalled && len(inflight) == 0 && len(queue) == 0 {
			timer.Reset(max(t.d.cfg.StallTimeout-now.Sub(lastMove), 0) + time.Millisecond)
			tc = timer.C
		}
		select {
		case out <- head:
			queue = queue[1:]
			delete(queued, head.index)
			inflight[head.index] = true
			if head.source {
				srcRunning++
			}
		case r := <-t.results:
			delete(inflight, r.job.index)
			if r.job.source {
				srcRunning--
			}
			if r.err == nil {
				if r.done {
					done = append(done, proto.DonePiece{Index: r.job.index, Digest: r.digest})
				}
				present[r.job.index] = true
				lastMove = time.Now()
				nextAsk = time.Time{} // a slot is free: ask at once
				continue
			}
			if r.fatal {
				return r.err
			}
			lastErr = r.err
			rounds[r.job.index]++
			if mode == modeSource || rounds[r.job.index] >= maxPeerRounds || r.job.source {
				// The scheduler's parents are exhausted: go to the source.
				// (A source job that failed without being fatal was
				// cancelled or lost a race; try it again.)
				enqueue(job{index: r.job.index, source: true, digest: r.job.digest})
			}
		case a := <-t.asks:
			asking--
			reserved -= a.max
			if a.err != nil {
				t.reportPieces(a.done) // the scheduler may not have seen them
				joined, mode, nextAsk = t.d.askFailed(t.ctx, t.log, a, mode, nextAsk)
				continue
			}
			joined = a.gen
			if mode == modeSource {
				t.log.Info("daemon: scheduler back")
				mode = modeScheduler
				// Pieces not yet started go back to the scheduler's hands.
				for _, j := range queue {
					delete(queued, j.index)
				}
				queue = queue[:0]
			}
			sc := a.sched
			t.log.Debug("daemon: schedule", "state", sc.State, "assigned", len(sc.Assignments), "retry_ms", sc.RetryMillis,
				"idle_workers", conc-len(inflight), "rtt", a.took)
			arrived := time.Now()
			switch sc.State {
			case proto.StateAssigned:
				// Start a batch in piece order: a piece that extends the
				// verified prefix is hashed for the whole-file digest as it
				// is written instead of read back later.
				slices.SortFunc(sc.Assignments, func(a, b proto.Assignment) int { return cmp.Compare(a.Index, b.Index) })
				for _, as := range sc.Assignments {
					i := as.Index
					if t.manifest != nil && t.layout.Contains(i) {
						as.Digest = t.manifest[i]
					}
					switch {
					case !t.layout.Contains(i):
					case present[i]:
						if dg, ok := t.st.PieceDigest(i); ok {
							t.reportDone(i, dg) // releases the assignment
						}
					case inflight[i] || queued[i]:
					case !as.Source && as.Digest.IsZero():
						// A parent whose digest nobody vouches for cannot be
						// verified: take the piece from the source instead.
						enqueue(job{index: i, source: true})
					default:
						enqueue(job{index: i, source: as.Source, digest: as.Digest, parents: as.Parents, assigned: arrived})
					}
				}
				if len(sc.Assignments) == 0 {
					nextAsk = time.Now().Add(100 * time.Millisecond)
				} else {
					lastMove = time.Now()
					stalled = false
				}
			case proto.StateWait:
				nextAsk = time.Now().Add(min(time.Duration(sc.RetryMillis)*time.Millisecond, time.Second))
			case proto.StateDone:
				if t.st.Present() == n {
					// Every piece is in; another worker is finishing the
					// whole-file hash (st.Done ends the wait).
					nextAsk = time.Now().Add(time.Second)
					break
				}
				// The scheduler thinks we hold everything but the store
				// disagrees: join again to resynchronize.
				joined = 0
				nextAsk = time.Now().Add(100 * time.Millisecond)
			}
		case <-tc:
		case <-t.st.Done(): // completed by whichever worker hashed last
		case <-t.st.Failed(): // the whole file did not match, or a published piece was lost
		case <-t.ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w (last failure: %w)", ErrCanceled, lastErr)
			}
			return ErrCanceled
		}
	}
}

// storeErr returns the store task's terminal error, classified: the
// whole file did not match its digest (ErrDigest), or a published piece
// could not be made durable (ErrDiskFull for a full disk). Either ends
// the download.
func (t *task) storeErr() error {
	err := t.st.Err()
	var dm *piece.DigestMismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dm) && dm.Piece == piece.WholeFile:
		return fmt.Errorf("%w: %w", ErrDigest, err)
	case errors.Is(err, piece.ErrDiskFull):
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return fmt.Errorf("daemon: store task %s: %w", t.id.Short(), err)
}

// ask joins the task again if the registration changed since joined, then
// reports the pieces done and asks the scheduler for up to max pieces. It
// runs on its own goroutine.
func (t *task) ask(ctx context.Context, joined uint64, max int, done []proto.DonePiece) askResult {
	return t.d.askPieces(ctx, t.id, joined, max, done, func(addr string, gen uint64) error {
		return t.d.joinTask(ctx, addr, gen, t.id, t.layout, t.url, t.st)
	})
}

// askPieces is one scheduler round trip of task id, for file and stream
// tasks alike: if the registration changed since joined it joins the task
// again with join (which reports every piece held), then reports the
// pieces done and asks for up to max pieces (RequestPieces).
func (d *Daemon) askPieces(ctx context.Context, id core.TaskID, joined uint64, max int, done []proto.DonePiece, join func(addr string, gen uint64) error) askResult {
	start := time.Now()
	addr, gen, err := d.sched.ensure(ctx)
	if err != nil {
		return askResult{gen: joined, err: err}
	}
	if gen != joined {
		if err := join(addr, gen); err != nil {
			return askResult{gen: 0, err: err}
		}
		joined = gen
	}
	req := &proto.RequestPieces{Peer: d.peer, Task: id, Max: uint16(max), WaitMillis: waitMillis, Done: done}
	reply, err := d.sched.call(ctx, addr, gen, req, waitMillis*time.Millisecond)
	if err != nil {
		return askResult{gen: joined, err: err}
	}
	sc, ok := reply.(*proto.Schedule)
	if !ok {
		return askResult{gen: joined, err: fmt.Errorf("daemon: request pieces: unexpected %v reply", reply.Type())}
	}
	return askResult{gen: joined, sched: sc, took: time.Since(start)}
}

// askFailed is a task loop's answer to a failed scheduler round trip a,
// for file and stream tasks alike: it returns the registration the task
// is still joined under (0 when the scheduler forgot the task or the
// peer), and when the scheduler is unavailable switches to modeSource
// until the next reconnect.
func (d *Daemon) askFailed(ctx context.Context, log *slog.Logger, a askResult, mode int, nextAsk time.Time) (joined uint64, _ int, _ time.Time) {
	joined = a.gen
	switch {
	case errors.Is(a.err, context.Canceled) && ctx.Err() != nil:
	case codeOf(a.err) == proto.CodeUnknownTask, codeOf(a.err) == proto.CodeUnknownPeer:
		joined = 0
	case unavailable(a.err):
		if mode != modeSource {
			log.Warn("daemon: scheduler unavailable, fetching from the source", "err", a.err)
		}
		mode = modeSource
		nextAsk = time.Now().Add(d.cfg.ReconnectInterval)
	}
	return joined, mode, nextAsk
}

// report sends the task's queued reports until reports is closed.
func (t *task) report() { t.d.runReports(t.reports) }

// runReports sends the reports queued on ch to the scheduler, in order,
// merging consecutive PieceDone messages into one and consecutive Evicted
// messages into one (up to proto.MaxBatch pieces each). It runs until ch
// is closed.
func (d *Daemon) runReports(ch <-chan proto.Message) {
	var pending proto.Message
	flush := func() {
		if pending != nil {
			d.sendReport(pending)
			pending = nil
		}
	}
	for m := range ch {
		pending = m
	merge:
		for {
			select {
			case next, ok := <-ch:
				if !ok {
					break merge
				}
				if !mergeReport(pending, next) {
					flush()
					pending = next
				}
			default:
				break merge
			}
		}
		flush()
	}
}

// mergeReport appends next to pending if both are PieceDone or both
// Evicted for the same task and the result fits one message.
func mergeReport(pending, next proto.Message) bool {
	switch p := pending.(type) {
	case *proto.PieceDone:
		n, ok := next.(*proto.PieceDone)
		if !ok || n.Task != p.Task || len(p.Pieces)+len(n.Pieces) > proto.MaxBatch {
			return false
		}
		p.Pieces = append(p.Pieces, n.Pieces...)
		return true
	case *proto.Evicted:
		n, ok := next.(*proto.Evicted)
		if !ok || n.Task != p.Task || len(p.Indices)+len(n.Indices) > proto.MaxBatch {
			return false
		}
		p.Indices = append(p.Indices, n.Indices...)
		return true
	}
	return false
}

// sendReport delivers one report under the current registration; failures
// are dropped (see queueReport).
func (d *Daemon) sendReport(m proto.Message) {
	c := d.sched
	c.mu.Lock()
	addr, gen := c.addr, c.gen
	c.mu.Unlock()
	if gen == 0 {
		return
	}
	start := time.Now()
	_, err := c.call(d.ctx, addr, gen, m, 0)
	if d.log.Enabled(d.ctx, slog.LevelDebug) {
		if pd, ok := m.(*proto.PieceDone); ok {
			d.log.Debug("daemon: pieces reported", "task", pd.Task.Short(), "pieces", len(pd.Pieces), "rtt", time.Since(start), "err", err)
		}
	}
}

// exclusions is the set of parents that served a corrupt piece of a task;
// file and stream tasks embed it. Its zero value is empty and ready.
type exclusions struct {
	mu       sync.Mutex // guards excluded
	excluded map[core.PeerID]bool
}

// exclude marks parent p as having served a corrupt piece.
func (e *exclusions) exclude(p core.PeerID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.excluded == nil {
		e.excluded = map[core.PeerID]bool{}
	}
	e.excluded[p] = true
}

// isExcluded reports whether parent p served a corrupt piece.
func (e *exclusions) isExcluded(p core.PeerID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.excluded[p]
}
