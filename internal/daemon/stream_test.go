// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
)

const streamPiece = 256 << 10

// streamConfig is a daemon config for stream tests: 256 KiB pieces, a
// short linger.
func streamConfig(t *testing.T, sched string, window int) daemon.Config {
	cfg := baseConfig(t, sched)
	cfg.PieceSize = streamPiece
	cfg.StreamWindow = window
	cfg.StreamLinger = 500 * time.Millisecond
	return cfg
}

// hashWriter hashes what is written to it and counts the bytes.
type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n atomic.Int64
}

func newHashWriter() *hashWriter { return &hashWriter{h: sha256.New()} }

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.h.Write(p)
}

func (w *hashWriter) sum() [32]byte { return [32]byte(w.h.Sum(nil)) }

// streamAll streams req from d to a hash and checks the bytes.
func streamAll(t *testing.T, ctx context.Context, d *daemon.Daemon, req daemon.Request, want []byte) {
	t.Helper()
	s, err := d.Stream(ctx, req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer func() { _ = s.Close() }()
	w := newHashWriter()
	if _, err := s.WriteTo(w); err != nil {
		t.Fatalf("stream: %v after %d bytes", err, w.n.Load())
	}
	if w.sum() != sha256.Sum256(want) {
		t.Fatalf("streamed %d bytes; sha256 differs from the %d-byte source", w.n.Load(), len(want))
	}
	if sum, ok := s.Sum(); !ok || sum != digestOf(want) {
		t.Fatalf("Sum() = %v, %v", sum, ok)
	}
}

// TestStreamSourceOnly streams from an HTTP origin without a scheduler:
// the bytes match, nothing reaches the store, and the task is gone after
// its linger.
func TestStreamSourceOnly(t *testing.T) {
	data := genData(4<<20+12345, 31)
	o := newOrigin(t, data)
	d := startDaemon(t, streamConfig(t, "", 4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	streamAll(t, ctx, d, daemon.Request{URL: o.url(), Digest: digestOf(data)}, data)
	st := d.Stats()
	if st.StoreBytes != 0 || st.ActiveTasks != 0 || st.SeedingTasks != 0 || st.BytesFromSource != uint64(len(data)) {
		t.Fatalf("stats %+v: want nothing in the store and every byte from the source once", st)
	}
	waitFor(t, "the stream to leave after its linger", 10*time.Second, func() bool { return d.Stats().StreamingTasks == 0 })

	// An empty object is a stream that ends at once.
	e := newOrigin(t, nil)
	streamAll(t, ctx, d, daemon.Request{URL: e.url()}, nil)
}

// TestStreamOverAPI streams through the local API (Unix socket): the
// bytes, a wrong digest reported after the body, a source that fails
// mid-stream, a request refused at once, and a client that goes away.
func TestStreamOverAPI(t *testing.T) {
	data := genData(3<<20+7, 32)
	o := newOrigin(t, data)
	cfg := streamConfig(t, "", 4)
	cfg.Socket = filepath.Join(t.TempDir(), "d.sock")
	d := startDaemon(t, cfg)
	c := daemon.NewClient(cfg.Socket)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := c.Stream(ctx, daemon.Request{URL: o.url(), Digest: digestOf(data)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != int64(len(data)) {
		t.Fatalf("Size() = %d", s.Size())
	}
	got, err := io.ReadAll(s)
	_ = s.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want the %d-byte source", len(got), err, len(data))
	}
	if sum, ok := s.Sum(); !ok || sum != digestOf(data) {
		t.Fatalf("Sum() = %v, %v", sum, ok)
	}

	// A wrong digest: the bytes went out, the end says so.
	wrong := digestOf([]byte("something else"))
	s, err = c.Stream(ctx, daemon.Request{URL: o.url() + "?2", Digest: wrong})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.WriteTo(io.Discard)
	_ = s.Close()
	if !errors.Is(err, daemon.ErrDigest) || n != int64(len(data)) {
		t.Fatalf("wrong digest: %d bytes, %v; want every byte and ErrDigest", n, err)
	}

	// The origin fails after the first pieces: the consumer gets
	// ErrSource, never a clean end.
	var reqs atomic.Int64
	o.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") != "bytes=0-0" && reqs.Add(1) > 3 {
			http.Error(w, "broken", http.StatusInternalServerError)
			return true
		}
		return false
	})
	s, err = c.Stream(ctx, daemon.Request{URL: o.url() + "?3"})
	if err != nil {
		t.Fatal(err)
	}
	n, err = s.WriteTo(io.Discard)
	_ = s.Close()
	if !errors.Is(err, daemon.ErrSource) || n >= int64(len(data)) {
		t.Fatalf("failing origin: %d bytes, %v; want ErrSource before the end", n, err)
	}
	o.setFault(nil)

	// Refused at once.
	if _, err := c.Stream(ctx, daemon.Request{URL: "ftp://x/y"}); !errors.Is(err, daemon.ErrBadRequest) {
		t.Fatalf("bad URL: %v, want ErrBadRequest", err)
	}
	if _, err := c.Stream(ctx, daemon.Request{URL: o.url(), Window: 1 << 20}); !errors.Is(err, daemon.ErrBadRequest) {
		t.Fatalf("huge window: %v, want ErrBadRequest", err)
	}

	// A client that reads a little and goes away ends the daemon's stream.
	sctx, scancel := context.WithCancel(ctx)
	s, err = c.Stream(sctx, daemon.Request{URL: o.url() + "?4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	scancel()
	if _, err := io.Copy(io.Discard, s); err == nil {
		t.Fatal("a cancelled stream ended cleanly")
	}
	_ = s.Close()
	waitFor(t, "the abandoned stream to end", 10*time.Second, func() bool { return d.Stats().StreamingTasks == 0 })
	if st := d.Stats(); st.StoreBytes != 0 {
		t.Fatalf("store holds %d bytes after streams only", st.StoreBytes)
	}
}

// TestStreamSlowReaderStalls: a consumer that stops reading stops the
// fetching once the window is full; memory is the window, not the file.
func TestStreamSlowReaderStalls(t *testing.T) {
	const window = 4
	data := genData(32*streamPiece, 33)
	o := newOrigin(t, data)
	d := startDaemon(t, streamConfig(t, "", window))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := d.Stream(ctx, daemon.Request{URL: o.url()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	full := uint64(window * streamPiece)
	waitFor(t, "the window to fill", 10*time.Second, func() bool { return d.Stats().BytesFromSource >= full })
	// Nothing reads: give the daemon time to overrun the window if it
	// would. (A bound checked after a pause, not a timing.)
	time.Sleep(300 * time.Millisecond)
	if got := d.Stats().BytesFromSource; got != full {
		t.Fatalf("fetched %d bytes with nobody reading, want exactly the window's %d", got, full)
	}
	// Read one piece: exactly one more piece may come.
	if _, err := io.ReadFull(s, make([]byte, streamPiece)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window to move by one piece", 10*time.Second, func() bool { return d.Stats().BytesFromSource >= full+streamPiece })
	time.Sleep(100 * time.Millisecond)
	if got := d.Stats().BytesFromSource; got != full+streamPiece {
		t.Fatalf("fetched %d bytes after one piece was read, want %d", got, full+streamPiece)
	}
	w := newHashWriter()
	_, _ = w.Write(data[:streamPiece])
	if _, err := s.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if w.sum() != sha256.Sum256(data) {
		t.Fatal("stream differs from the source")
	}
}

// TestStreamBusy: one daemon streams a task to one consumer at a time and
// not while it downloads it to a file; a finished stream that only lingers
// gives way.
func TestStreamBusy(t *testing.T) {
	data := genData(8*streamPiece, 34)
	o := newOrigin(t, data)
	cfg := streamConfig(t, "", 2)
	cfg.StreamLinger = time.Hour
	d := startDaemon(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := daemon.Request{URL: o.url()}
	s, err := d.Stream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stream(ctx, req); !errors.Is(err, daemon.ErrBusy) {
		t.Fatalf("second consumer: %v, want ErrBusy", err)
	}
	if _, err := d.Download(ctx, daemon.Request{URL: o.url(), Output: filepath.Join(t.TempDir(), "o")}); !errors.Is(err, daemon.ErrBusy) {
		t.Fatalf("file download during a stream: %v, want ErrBusy", err)
	}
	if _, err := s.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}
	_ = s.Close() // now it lingers (for an hour)
	if d.Stats().StreamingTasks != 1 {
		t.Fatalf("stats %+v: the finished stream should linger", d.Stats())
	}
	// A new request takes the task over.
	streamAll(t, ctx, d, req, data)
	out, _ := fetch(t, d, daemon.Request{URL: o.url()})
	checkFile(t, out, data)
	// With the task complete in the store, a stream reads it from there.
	before := o.served.Load()
	streamAll(t, ctx, d, req, data)
	if got := o.served.Load() - before; got > 1 {
		t.Fatalf("streaming a stored task took %d bytes from the origin", got)
	}
}

// TestStreamSwarm: three daemons stream one task at once through a real
// scheduler; the file is many windows long (D7: the window never stalls);
// they serve each other from their windows, the evictions reach the
// scheduler, and the origin serves less than a copy per peer.
func TestStreamSwarm(t *testing.T) {
	const peers, window = 3, 8
	data := genData(96*streamPiece, 35) // 12 windows
	o := newOrigin(t, data)
	// The origin is the narrow link, as in the deployments stream mode is
	// for; peers are not, so what one fetched from it the others can take
	// from that peer's window.
	throttle(o, 40<<20)
	ss := startScheduler(t, patientScheduler(), "")
	var ds []*daemon.Daemon
	for range peers {
		ds = append(ds, startDaemon(t, patient(streamConfig(t, ss.addr, window))))
	}
	waitFor(t, "registration", 10*time.Second, func() bool {
		for _, d := range ds {
			if !d.Stats().Registered {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, peers)
	sums := make([][32]byte, peers)
	for i, d := range ds {
		wg.Go(func() {
			s, err := d.Stream(ctx, daemon.Request{URL: o.url(), Digest: digestOf(data)})
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = s.Close() }()
			w := newHashWriter()
			_, errs[i] = s.WriteTo(w)
			sums[i] = w.sum()
		})
	}
	wg.Wait()
	var served, fromPeers uint64
	servers := 0
	for i, d := range ds {
		if errs[i] != nil {
			t.Fatalf("daemon %d: %v", i, errs[i])
		}
		if sums[i] != sha256.Sum256(data) {
			t.Fatalf("daemon %d: stream differs from the source", i)
		}
		st := d.Stats()
		t.Logf("daemon %d: source %d, peers %d, served %d pieces, misses %d", i, st.BytesFromSource, st.BytesFromPeers, st.PiecesServed, st.Misses)
		if st.StoreBytes != 0 {
			t.Fatalf("daemon %d: %d bytes in the store", i, st.StoreBytes)
		}
		served += st.PiecesServed
		fromPeers += st.BytesFromPeers
		if st.PiecesServed > 0 {
			servers++
		}
	}
	sst := ss.s.Stats()
	t.Logf("origin served %d bytes (%.2f copies); scheduler %+v", o.served.Load(), float64(o.served.Load())/float64(len(data)), sst)
	if served == 0 || fromPeers == 0 || servers < 2 {
		t.Fatalf("%d of %d daemons served pieces (%d in all, %d bytes from peers); want an exchange", servers, peers, served, fromPeers)
	}
	if sst.Evicted == 0 {
		t.Fatal("no eviction reached the scheduler")
	}
	if got := o.served.Load(); got >= int64(peers*len(data)) {
		t.Fatalf("origin served %d bytes: every peer went to the source", got)
	}
}

// throttle makes o serve at about rate bytes per second per request.
func throttle(o *origin, rate int64) {
	o.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.ServeContent(countingWriter{slowWriter{w, rate}, &o.served}, r, "blob", time.Time{}, bytes.NewReader(o.data))
		return true
	})
}

// slowWriter writes in 64 KiB chunks at about rate bytes per second.
type slowWriter struct {
	http.ResponseWriter
	rate int64
}

func (w slowWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		k := min(len(p), 64<<10)
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		time.Sleep(time.Duration(int64(k) * int64(time.Second) / w.rate))
		p = p[k:]
	}
	return n, nil
}
