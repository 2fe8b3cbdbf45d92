// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/ratelimit"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/msg"
)

// Daemon is one pollen daemon: it downloads tasks from parents and the
// source, serves the pieces it holds to other peers and answers the local
// API. Create it with [New], run it with [Daemon.Run], stop it with
// [Daemon.Close]. A Daemon is safe for concurrent use.
type Daemon struct {
	cfg   Config
	log   *slog.Logger
	peer  core.PeerID
	store *piece.Store
	node  *msg.Node
	sched *schedClient
	up    *ratelimit.Bucket // nil: unlimited
	down  *ratelimit.Bucket
	stats counters

	apiLn  net.Listener // nil without Config.Socket
	apiSrv *http.Server // serves apiLn; set by New

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the daemon starts
	closed chan struct{}  // closed when Close has finished

	mu       sync.Mutex // guards the following fields
	closing  bool
	running  bool
	closeErr error
	tasks    map[core.TaskID]*task       // downloads in progress
	streams  map[core.TaskID]*streamTask // stream-mode downloads, until they leave the task
	seeds    map[core.TaskID]*seed       // complete tasks served to peers
}

// seed is a complete task the daemon keeps serving until it is collected.
type seed struct {
	url    string
	layout core.Layout
	gen    uint64 // registration the task was joined under; 0 none
}

// counters are the daemon's statistics.
type counters struct {
	fromSource, fromPeers, uploaded         atomic.Uint64
	verified, failed, corrupt, served, miss atomic.Uint64
	uploads, downloads                      atomic.Int64 // in progress
}

// Stats is a snapshot of the daemon's counters, for metrics.
type Stats struct {
	BytesFromSource uint64 // piece bytes fetched from origins
	BytesFromPeers  uint64 // piece bytes fetched from other daemons and verified
	BytesUploaded   uint64 // piece bytes served to other daemons
	PiecesVerified  uint64 // pieces stored after verification (or from the source)
	PiecesFailed    uint64 // piece fetch attempts that failed, any reason
	PiecesCorrupt   uint64 // pieces from peers that failed verification
	PiecesServed    uint64 // pieces uploaded
	Misses          uint64 // GetPiece answered Miss (not held, busy)
	Uploads         int    // pieces being uploaded now
	Downloads       int    // pieces being downloaded now
	ActiveTasks     int    // downloads in progress
	StreamingTasks  int    // stream-mode tasks (fetching, or lingering to serve peers)
	SeedingTasks    int    // complete tasks being served
	StoreBytes      int64  // bytes held by the piece store
	Registered      bool   // registered with a scheduler now
}

// New opens the piece store in cfg.DataDir, starts listening for peers
// and, if cfg.Socket is set, on the local API socket. Nothing is served
// until [Daemon.Run]. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("daemon: data dir: %w", err)
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: data dir: %w", err)
	}
	peer, err := loadPeerID(filepath.Join(dir, "peer-id"))
	if err != nil {
		return nil, err
	}
	store, err := piece.Open(piece.Config{Dir: dir, Quota: cfg.Quota, FS: cfg.FS, Logger: logger, ExportByLink: cfg.ExportByLink})
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	node, err := msg.NewNode(msg.Config{
		// MaxChunk stays msg's default (4 MiB): a piece of up to 4 MiB is
		// one frame and one sendfile loop, a larger one a few.
		RetransmitInterval: cfg.RetransmitInterval,
		Logger:             logger,
	})
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Daemon{
		cfg: cfg, log: logger.With("peer", peer.String()[:8]), peer: peer,
		store: store, node: node,
		up: newLimiter(cfg.UploadRate), down: newLimiter(cfg.DownloadRate),
		ctx: ctx, cancel: cancel, closed: make(chan struct{}),
		tasks: map[core.TaskID]*task{}, streams: map[core.TaskID]*streamTask{}, seeds: map[core.TaskID]*seed{},
	}
	d.sched = &schedClient{d: d}
	fail := func(err error) (*Daemon, error) {
		cancel()
		_ = node.Close()
		_ = store.Close()
		return nil, err
	}
	if err := node.Listen(ctx, "tcp://"+cfg.Listen); err != nil {
		return fail(fmt.Errorf("daemon: listen for peers: %w", err))
	}
	if cfg.Socket != "" {
		if d.apiLn, err = listenUnix(cfg.Socket); err != nil {
			return fail(err)
		}
		d.apiSrv = d.newAPIServer()
	}
	for _, info := range store.Tasks() {
		if !info.Complete {
			continue // resumed when asked for again
		}
		if t, err := store.Acquire(info.ID); err == nil {
			m := t.Meta()
			t.Release()
			d.seeds[info.ID] = &seed{url: m.URL, layout: m.Layout}
		}
	}
	return d, nil
}

// loadPeerID reads the daemon's id from path, creating it on first start,
// so that a restarted daemon registers as the same peer.
func loadPeerID(path string) (core.PeerID, error) {
	if b, err := os.ReadFile(path); err == nil {
		if id, err := core.ParsePeerID(strings.TrimSpace(string(b))); err == nil && !id.IsZero() {
			return id, nil
		}
	}
	id := core.NewPeerID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id.String()+"\n"), 0o600); err != nil {
		return id, fmt.Errorf("daemon: write peer id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return id, fmt.Errorf("daemon: write peer id: %w", err)
	}
	return id, nil
}

// PeerID returns the daemon's peer id.
func (d *Daemon) PeerID() core.PeerID { return d.peer }

// PeerAddr returns the host:port peers fetch pieces from.
func (d *Daemon) PeerAddr() string { return strings.TrimPrefix(d.node.Addr(), "tcp://") }

// SocketPath returns the local API's socket path, "" without one.
func (d *Daemon) SocketPath() string { return d.cfg.Socket }

// goroutine runs f on a goroutine counted in d.wg; it refuses (false) once
// Close has begun.
func (d *Daemon) goroutine(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// Run serves peers and the local API and keeps the daemon registered with
// the scheduler until ctx is done or [Daemon.Close] is called; then it
// shuts the daemon down (as Close does) and returns the context's cause or
// [ErrClosed]. Downloads work without Run, but nothing is served.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.running {
		d.mu.Unlock()
		return errors.New("daemon: already running")
	}
	d.running = true
	d.mu.Unlock()
	d.goroutine(d.serve)
	d.goroutine(d.keep)
	if d.apiSrv != nil {
		d.goroutine(func() {
			err := d.apiSrv.Serve(d.apiLn)
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("daemon: local API stopped", "err", err)
			}
		})
	}
	select {
	case <-ctx.Done():
		err := d.Close()
		return errors.Join(context.Cause(ctx), err)
	case <-d.ctx.Done():
		<-d.closed
		return ErrClosed
	}
}

// Close stops every download (their pieces stay stored for a resume),
// leaves the scheduler, closes the connections and the store and waits
// for the daemon's goroutines. It is idempotent.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		<-d.closed
		return d.closeErr
	}
	d.closing = true
	d.mu.Unlock()

	d.sched.leave() // best effort, bounded; before the node closes
	d.cancel()
	var errs []error
	if d.apiSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = d.apiSrv.Shutdown(ctx) // streams end when their downloads do
		cancel()
		_ = d.apiSrv.Close()
		_ = d.apiLn.Close() // if Run never served it
	}
	d.wg.Wait()
	if d.cfg.Socket != "" {
		_ = os.Remove(d.cfg.Socket)
	}
	if err := d.node.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := d.store.Close(); err != nil {
		errs = append(errs, err)
	}
	d.mu.Lock()
	d.closeErr = errors.Join(errs...)
	d.mu.Unlock()
	close(d.closed)
	return d.closeErr
}

// Stats returns a snapshot of the daemon's counters.
func (d *Daemon) Stats() Stats {
	c := &d.stats
	d.mu.Lock()
	active, streaming, seeding := len(d.tasks), len(d.streams), len(d.seeds)
	d.mu.Unlock()
	return Stats{
		BytesFromSource: c.fromSource.Load(), BytesFromPeers: c.fromPeers.Load(), BytesUploaded: c.uploaded.Load(),
		PiecesVerified: c.verified.Load(), PiecesFailed: c.failed.Load(), PiecesCorrupt: c.corrupt.Load(),
		PiecesServed: c.served.Load(), Misses: c.miss.Load(),
		Uploads: int(c.uploads.Load()), Downloads: int(c.downloads.Load()),
		ActiveTasks: active, StreamingTasks: streaming, SeedingTasks: seeding,
		StoreBytes: d.store.Usage(), Registered: d.sched.registered(),
	}
}

// listenUnix listens on a Unix socket at path with mode 0600. The socket
// is created under a temporary name, restricted, then renamed into place,
// so it is never reachable with wider permissions. A stale socket at path
// is replaced.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("daemon: socket dir: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("daemon: listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		_ = ln.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("daemon: chmod socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = ln.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("daemon: place socket: %w", err)
	}
	return ln, nil
}
