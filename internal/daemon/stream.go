// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/source"
	"github.com/pollen-dev/pollen/internal/stream"
)

// Stream is one stream-mode download (SPEC S2): the object's bytes in
// order, as soon as the prefix has arrived, from a memory window that is
// never written to disk. Read it with [Stream.Read] or [Stream.WriteTo];
// the end of a verified stream is io.EOF (WriteTo: nil), a failed one ends
// with the error instead (ErrDigest, ErrSource, ErrCanceled, ErrClosed, a
// broken connection to the daemon). Always [Stream.Close] it. A Stream is
// read by one goroutine; Close may be called from any.
type Stream struct {
	size  int64
	body  streamBody
	close func() // abandons the stream; called once

	mu     sync.Mutex // guards the following fields
	ended  bool       // the consumer got the end of the stream (EOF or error)
	sum    core.Digest
	summed bool
	closed bool
}

// streamBody is where a Stream's bytes come from: the daemon's cache in
// process, the store for a complete task, or the local API's response.
type streamBody interface {
	io.Reader
	io.WriterTo
	// digest returns the SHA-256 of the whole stream once it has ended
	// verified.
	digest() (core.Digest, bool)
}

// Size returns the object's size in bytes.
func (s *Stream) Size() int64 { return s.size }

// Read reads the next bytes of the object; it blocks until they arrive.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if err != nil {
		s.end(err)
	}
	return n, err
}

// WriteTo writes the rest of the object to w as it arrives, one piece at a
// time. It returns nil at the end of a verified stream.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	n, err := s.body.WriteTo(w)
	s.end(err)
	return n, err
}

// Sum returns the object's SHA-256 once the stream has ended verified.
func (s *Stream) Sum() (core.Digest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum, s.summed
}

// end records that the consumer has seen the end of the stream (or an
// error writing it).
func (s *Stream) end(err error) {
	sum, ok := s.body.digest()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if err == nil || errors.Is(err, io.EOF) {
		s.sum, s.summed = sum, ok
	}
}

// Close lets go of the stream. Before its end it abandons the download
// (a Read or WriteTo in progress returns ErrCanceled); after it, the
// daemon keeps serving the window to peers for Config.StreamLinger. Close
// is idempotent.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.close()
	return nil
}

// Stream starts a stream-mode download of req.URL and returns at once;
// the bytes are read from the returned Stream as they arrive. The daemon
// keeps at most req.Window (Config.StreamWindow) pieces in memory, fetches
// a piece only when the window has room, writes nothing to disk, and
// serves the window to the peers streaming the same task. req.Output must
// be empty. ctx bounds the stream: cancelling it is [Stream.Close].
//
// A task the daemon holds complete is streamed from its store. One
// daemon streams a task to one consumer at a time, and not while it
// downloads the same task in file mode: ErrBusy.
func (d *Daemon) Stream(ctx context.Context, req Request) (*Stream, error) {
	if req.URL == "" {
		return nil, fmt.Errorf("%w: empty URL", ErrBadRequest)
	}
	if req.Output != "" {
		return nil, fmt.Errorf("%w: a stream has no output file", ErrBadRequest)
	}
	if req.Window < 0 || req.Window > stream.MaxWindow {
		return nil, fmt.Errorf("%w: window %d outside [0, %d]", ErrBadRequest, req.Window, stream.MaxWindow)
	}
	id, layout, src, err := d.openSource(ctx, req)
	if err != nil {
		return nil, err
	}
	d.stopLingering(id)
	if s, ok := d.streamFromStore(id, layout, req.Digest); ok {
		_ = src.Close()
		return s, nil
	}
	t, err := d.startStream(id, req, layout, src)
	if err != nil {
		return nil, err
	}
	s := &Stream{size: layout.Size, body: cacheBody{t.cache}}
	stop := context.AfterFunc(ctx, func() { t.abandon(ErrCanceled) })
	s.close = func() {
		stop()
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		if !ended {
			t.abandon(ErrCanceled)
		}
		t.consumerGone()
	}
	return s, nil
}

// abandon ends the stream before its end: the consumer gets err.
func (t *streamTask) abandon(err error) {
	_ = t.cache.CloseWithError(err)
	t.consumerGone()
}

// startStream creates the stream task for id and starts its loop. It takes
// ownership of src.
func (d *Daemon) startStream(id core.TaskID, req Request, layout core.Layout, src source.Source) (*streamTask, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fail := func(err error) (*streamTask, error) {
		_ = src.Close()
		return nil, err
	}
	switch {
	case d.closing:
		return fail(ErrClosed)
	case d.tasks[id] != nil:
		return fail(fmt.Errorf("%w: task %s is being downloaded to a file; try again when it completes", ErrBusy, id.Short()))
	case d.streams[id] != nil:
		return fail(fmt.Errorf("%w: task %s is being streamed to another consumer", ErrBusy, id.Short()))
	}
	t, err := d.newStreamTask(id, req, layout, src)
	if err != nil {
		return fail(err)
	}
	d.streams[id] = t
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer t.cancel()
		t.run()
	}()
	return t, nil
}

// stopLingering ends a finished stream of id that only lingers to serve
// peers, and waits for it to leave, so that a new request can have the
// task.
func (d *Daemon) stopLingering(id core.TaskID) {
	d.mu.Lock()
	t := d.streams[id]
	d.mu.Unlock()
	if t == nil || !t.linger.Load() {
		return
	}
	t.cancel()
	<-t.done
}

// forgetStream removes a stream task that has ended.
func (d *Daemon) forgetStream(t *streamTask) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.streams[t.id] == t {
		delete(d.streams, t.id)
	}
}

// streamCache returns the window of the stream of task id, or nil.
func (d *Daemon) streamCache(id core.TaskID) *stream.Cache {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.streams[id]; t != nil {
		return t.cache
	}
	return nil
}

// cacheBody reads a stream task's cache, with the daemon's errors.
type cacheBody struct{ c *stream.Cache }

func (b cacheBody) Read(p []byte) (int, error) {
	n, err := b.c.Read(p)
	return n, streamErr(err)
}

func (b cacheBody) WriteTo(w io.Writer) (int64, error) {
	n, err := b.c.WriteTo(w)
	return n, streamErr(err)
}

func (b cacheBody) digest() (core.Digest, bool) { return b.c.Digest() }

// streamErr maps the cache's end-of-stream errors to the daemon's.
func streamErr(err error) error {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return err
	case errors.Is(err, stream.ErrDigest):
		return fmt.Errorf("%w: %w", ErrDigest, err)
	case errors.Is(err, stream.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// streamFromStore returns a Stream of the complete task id read from the
// piece store (no fetching, no writing), if the daemon holds it and its
// digest is the one asked for.
func (d *Daemon) streamFromStore(id core.TaskID, layout core.Layout, want core.Digest) (*Stream, bool) {
	st, err := d.store.Acquire(id)
	if err != nil {
		return nil, false
	}
	sum, ok := st.Sum()
	if !st.Complete() || st.Layout() != layout || (!want.IsZero() && (!ok || sum != want)) {
		st.Release()
		return nil, false
	}
	b := &storeBody{st: st, n: layout.Pieces(), want: want, h: sha256.New()}
	return &Stream{size: layout.Size, body: b, close: b.release}, true
}

// storeBody streams a complete task from the store, piece by piece.
type storeBody struct {
	st   *piece.Task
	n    int
	want core.Digest // zero: unknown
	once sync.Once

	mu   sync.Mutex // guards the following fields
	next int        // next piece to open
	cur  *piece.Section
	h    hash.Hash // SHA-256 of the bytes delivered
	sum  core.Digest
	done bool // sum is the whole object's
}

// release closes the section being read and unpins the task.
func (b *storeBody) release() {
	b.once.Do(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.cur != nil {
			_ = b.cur.Close()
			b.cur = nil
		}
		b.next = b.n
		b.st.Release()
	})
}

// sectionLocked returns the section being read, opening the next one;
// io.EOF at the end.
func (b *storeBody) sectionLocked() (*piece.Section, error) {
	if b.cur != nil {
		return b.cur, nil
	}
	if b.next >= b.n {
		if !b.done {
			b.done = true
			b.sum = core.Digest(b.h.Sum(nil))
		}
		if !b.want.IsZero() && b.sum != b.want {
			return nil, fmt.Errorf("%w: stored task: want %s, got %s", ErrDigest, b.want, b.sum)
		}
		return nil, io.EOF
	}
	sec, err := b.st.OpenPiece(core.PieceIndex(b.next))
	if err != nil {
		return nil, fmt.Errorf("daemon: read piece %d from the store: %w", b.next, err)
	}
	b.next++
	b.cur = sec
	return sec, nil
}

func (b *storeBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		sec, err := b.sectionLocked()
		if err != nil {
			return 0, err
		}
		n, err := sec.Read(p)
		b.h.Write(p[:n])
		if errors.Is(err, io.EOF) {
			_ = sec.Close()
			b.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (b *storeBody) WriteTo(w io.Writer) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var total int64
	for {
		sec, err := b.sectionLocked()
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := sec.WriteTo(io.MultiWriter(w, b.h))
		total += n
		_ = sec.Close()
		b.cur = nil
		if err != nil {
			return total, err
		}
	}
}

func (b *storeBody) digest() (core.Digest, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sum, b.done
}
