// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/source"
)

// Download starts fetching req.URL, or joins the download of the same task
// already running, and returns the transfer at once. It opens the source
// first (to learn the size, which sets the piece size and the task id), so
// an origin that cannot be reached fails here. ctx bounds the whole
// transfer: cancelling it is [Transfer.Cancel]. When the object is
// complete and verified it is exported to req.Output; the task stays in
// the store, seeded to other peers, until garbage collection. A relative
// req.Output is taken relative to this process's working directory.
func (d *Daemon) Download(ctx context.Context, req Request) (*Transfer, error) {
	if req.URL == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrBadRequest)
	}
	if req.Output != "" && !filepath.IsAbs(req.Output) {
		abs, err := filepath.Abs(req.Output)
		if err != nil {
			return nil, fmt.Errorf("%w: output: %w", ErrBadRequest, err)
		}
		req.Output = abs
	}
	id, layout, src, err := d.openSource(ctx, req)
	if err != nil {
		return nil, err
	}
	d.stopLingering(id)
	t, err := d.startTask(id, req.URL, layout, req.Digest, req.PieceDigests, src)
	if err != nil {
		return nil, err
	}
	tctx, stop := context.WithCancel(ctx)
	tr := &Transfer{
		started: time.Now(),
		done:    make(chan struct{}),
		stop:    stop,
		final:   Progress{Task: id, State: StateRunning},
	}
	tr.snap = func(p *Progress) {
		t.prog.snapshot(p, time.Now())
		p.Elapsed = time.Since(tr.started)
	}
	if !d.goroutine(func() { d.follow(tctx, t, tr, req.Output) }) {
		stop()
		d.detach(t)
		return nil, ErrClosed
	}
	return tr, nil
}

// openSource checks req, opens its source to learn the size and returns
// the task's id and layout with the open source, which the caller must
// close.
func (d *Daemon) openSource(ctx context.Context, req Request) (core.TaskID, core.Layout, source.Source, error) {
	var none core.TaskID
	if req.PieceSize < 0 || req.PieceSize > core.MaxPieceSize {
		return none, core.Layout{}, nil, fmt.Errorf("%w: piece size %d outside [0, %d]", ErrBadRequest, req.PieceSize, core.MaxPieceSize)
	}
	scfg := d.cfg.Source
	if scfg.Logger == nil {
		scfg.Logger = d.log
	}
	src, err := source.Open(ctx, req.URL, scfg)
	if err != nil {
		if errors.Is(err, source.ErrUnsupported) {
			return none, core.Layout{}, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		return none, core.Layout{}, nil, fmt.Errorf("%w: open %s: %w", ErrSource, req.URL, err)
	}
	size := src.Size()
	ps := cmpOr(req.PieceSize, d.cfg.PieceSize, core.PieceSizeFor(size))
	layout := core.Layout{Size: size, PieceSize: ps}
	if err := layout.Validate(); err != nil {
		_ = src.Close()
		return none, core.Layout{}, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if n := len(req.PieceDigests); n > 0 && n != layout.Pieces() {
		_ = src.Close()
		return none, core.Layout{}, nil, fmt.Errorf("%w: %d piece digests for %d pieces of %d bytes", ErrBadRequest, n, layout.Pieces(), ps)
	}
	id := core.TaskIDForURL(req.URL, ps)
	switch {
	case !req.Digest.IsZero():
		id = core.TaskIDForDigest(req.Digest, ps)
	case len(req.PieceDigests) > 0:
		id = core.TaskIDForManifest(req.PieceDigests, ps)
	}
	return id, layout, src, nil
}

// cmpOr returns the first non-zero value.
func cmpOr(v ...int64) int64 {
	for _, x := range v {
		if x != 0 {
			return x
		}
	}
	return 0
}

// startTask returns the running task id with one more transfer attached,
// creating (or resuming) it in the store and starting its loop if needed.
// It takes ownership of src.
func (d *Daemon) startTask(id core.TaskID, url string, layout core.Layout, digest core.Digest, manifest []core.Digest, src source.Source) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		_ = src.Close()
		return nil, ErrClosed
	}
	if t := d.tasks[id]; t != nil {
		t.refs++
		_ = src.Close()
		return t, nil
	}
	if d.streams[id] != nil {
		_ = src.Close()
		return nil, fmt.Errorf("%w: task %s is being streamed; try again when the stream ends", ErrBusy, id.Short())
	}
	st, err := d.store.Create(piece.Meta{ID: id, URL: url, Layout: layout, Digest: digest, PieceDigests: manifest})
	if err != nil {
		_ = src.Close()
		if errors.Is(err, piece.ErrQuota) || errors.Is(err, piece.ErrDiskFull) {
			return nil, fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return nil, fmt.Errorf("daemon: create task %s: %w", id.Short(), err)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	t := &task{
		reporter: reporter{d: d, id: id, reports: make(chan proto.Message, 4096)},
		url:      url, layout: layout, src: src, st: st,
		manifest: st.Meta().PieceDigests,
		log:      d.log.With("task", id.Short()),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		// Every worker has at most one result outstanding.
		results: make(chan result, d.cfg.Concurrency),
		asks:    make(chan askResult, d.cfg.Concurrency+1), // one per slot, or a probe
		refs:    1,
	}
	present := st.Present()
	var have int64
	for i, ok := range st.Bitmap() {
		if ok {
			have += layout.Piece(core.PieceIndex(i)).Len
		}
	}
	t.prog.init(layout, present, have)
	if present > 0 {
		t.log.Info("daemon: resuming task", "pieces", present, "of", layout.Pieces())
	}
	d.tasks[id] = t
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer cancel()
		t.run()
	}()
	return t, nil
}

// detach drops one transfer from t; the last one stops the download.
func (d *Daemon) detach(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t.refs--
	if t.refs == 0 {
		t.cancel()
	}
}

// finished moves a complete task from the downloads to the seeds.
func (d *Daemon) finished(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tasks[t.id] == t {
		delete(d.tasks, t.id)
	}
	d.seeds[t.id] = &seed{url: t.url, layout: t.layout, gen: t.joined}
	t.log.Info("daemon: task complete, seeding")
}

// forget removes a task that ended without completing.
func (d *Daemon) forget(t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tasks[t.id] == t {
		delete(d.tasks, t.id)
	}
}

// follow waits for the transfer's task (or the transfer's end), exports
// the object and records the outcome.
func (d *Daemon) follow(ctx context.Context, t *task, tr *Transfer, output string) {
	var err error
	select {
	case <-t.done:
		err = t.err
	case <-ctx.Done():
		err = ErrCanceled
	}
	d.detach(t)
	if err == nil {
		err = d.export(t, output)
	}
	p := Progress{Task: t.id}
	tr.snap(&p)
	p.State = StateDone
	switch {
	case errors.Is(err, ErrCanceled):
		p.State = StateCanceled
	case err != nil:
		p.State = StateFailed
	}
	if err != nil {
		p.Error = err.Error()
	} else if st, aerr := d.store.Acquire(t.id); aerr == nil {
		p.Sum, _ = st.Sum()
		st.Release()
	}
	tr.end(p, err)
}

// export places the complete task at output (if any).
func (d *Daemon) export(t *task, output string) error {
	if output == "" {
		return nil
	}
	st, err := d.store.Acquire(t.id)
	if err != nil {
		return fmt.Errorf("daemon: export %s: %w", output, err)
	}
	defer st.Release()
	if err := st.Export(output); err != nil {
		if errors.Is(err, piece.ErrDiskFull) {
			return fmt.Errorf("%w: export %s: %w", ErrDiskFull, output, err)
		}
		return fmt.Errorf("daemon: export %s: %w", output, err)
	}
	return nil
}
