// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/msg"
)

// DefaultLinger is how long a receiver keeps seeding a file it placed,
// for the other receivers of the push.
const DefaultLinger = 10 * time.Second

// ServerConfig configures a [Server], the receiving end of `pollen
// receive`.
type ServerConfig struct {
	// Listen is the TCP address pushers send offers to, host:port.
	Listen string

	// DataDir holds one piece store per offer in flight (a subdirectory
	// each, removed afterwards). Required.
	DataDir string

	// Linger is how long the daemon of a placed file keeps serving its
	// pieces to the other receivers; 0 means [DefaultLinger], negative
	// none.
	Linger time.Duration

	// Daemon is the template of each offer's daemon: rates, concurrency,
	// timeouts. DataDir, Scheduler, Token, Listen and Socket are set per
	// offer (Listen on the host of Listen, a free port).
	Daemon daemon.Config

	// Logger; nil discards.
	Logger *slog.Logger
}

// Server answers offers: for each it checks the offer with the
// [Receiver], fetches the file through a daemon of its own that joins the
// pusher's swarm, places it with [File.Commit] and replies with a
// [Result]. Offers are served concurrently.
type Server struct {
	recv *Receiver
	cfg  ServerConfig
	log  *slog.Logger
	node *msg.Node
	host string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards closing, running and verdicts
	closing bool
	running bool
	closed  chan struct{}
	// verdicts holds the accepted offers, running or finished, until
	// verdictTTL after their verdict, for the Await that collects it.
	verdicts map[verdictKey]*verdict
}

// verdictKey names an accepted offer.
type verdictKey struct {
	task core.TaskID
	name string
}

// verdict is the outcome of an accepted offer: res, the encoded Result,
// is set before done is closed.
type verdict struct {
	done chan struct{}
	res  []byte
}

// finished reports whether v's verdict is in.
func (v *verdict) finished() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// verdictTTL is how long a receiver keeps a verdict no Await has
// collected yet. The pusher sends its Await as soon as the offer is
// accepted, so this only bounds the memory of pushers that went away.
const verdictTTL = 10 * time.Minute

// NewServer listens on cfg.Listen for offers to recv. Nothing is served
// until [Server.Run].
func NewServer(recv *Receiver, cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: no data directory", ErrConfig)
	}
	if cfg.Linger == 0 {
		cfg.Linger = DefaultLinger
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%w: listen: %w", ErrConfig, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("push: data dir: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	node, err := msg.NewNode(msg.Config{MaxMessage: MaxMessage, Logger: log.With("component", "msg")})
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := node.Listen(ctx, "tcp://"+cfg.Listen); err != nil {
		cancel()
		_ = node.Close()
		return nil, fmt.Errorf("push: listen on %s: %w", cfg.Listen, err)
	}
	return &Server{
		recv: recv, cfg: cfg, log: log, node: node, host: host,
		ctx: ctx, cancel: cancel, closed: make(chan struct{}), verdicts: map[verdictKey]*verdict{},
	}, nil
}

// Addr returns the host:port offers are sent to.
func (s *Server) Addr() string { return strings.TrimPrefix(s.node.Addr(), "tcp://") }

// Run answers offers until ctx is done or [Server.Close] is called, then
// shuts down as Close does.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closing || s.running {
		s.mu.Unlock()
		return ErrClosed
	}
	s.running = true
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	for {
		r, err := s.node.Receive(s.ctx)
		if err != nil {
			_ = s.Close()
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return nil
		}
		if !s.goroutine(func() { s.handle(r) }) {
			_ = r.Reply(encodeResult(NewResult(&Offer{}, core.Digest{}, 0, 0, 0, ErrClosed)))
		}
	}
}

// goroutine runs f on a goroutine Close waits for; false once closing.
func (s *Server) goroutine(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Go(f)
	return true
}

// Close stops taking offers, cancels those in flight (each answered with
// an error if its pusher still listens) and waits for them. It is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.closed
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	err := s.node.Close()
	close(s.closed)
	return err
}

// handle answers one request: an Offer or an Await.
func (s *Server) handle(r *msg.Request) {
	m, err := Decode(r.Message())
	if err != nil {
		_ = r.Reply(encodeResult(NewResult(&Offer{}, core.Digest{}, 0, 0, 0, err)))
		return
	}
	switch m := m.(type) {
	case *Offer:
		s.offer(r, m)
	case *Await:
		s.await(r, m)
	default:
		_ = r.Reply(encodeResult(NewResult(&Offer{}, core.Digest{}, 0, 0, 0,
			fmt.Errorf("%w: a %v is neither an offer nor an await", ErrBadOffer, m.Type()))))
	}
}

// offer answers Offer o: a refusal at once, or CodeAccepted at once and
// then the file is fetched and placed; its verdict waits for an Await.
func (s *Server) offer(r *msg.Request, o *Offer) {
	start := time.Now()
	log := s.log.With("file", o.Name, "task", o.Task.Short(), "from", r.Sender().Addr)
	file, err := s.recv.Accept(o, nil)
	if err != nil {
		log.Warn("push: offer refused", "err", err)
		_ = r.Reply(encodeResult(NewResult(o, core.Digest{}, 0, 0, time.Since(start), err)))
		return
	}
	key := verdictKey{o.Task, o.Name}
	v := &verdict{done: make(chan struct{})}
	s.mu.Lock()
	old := s.verdicts[key]
	dup := old != nil && !old.finished()
	if !dup {
		s.verdicts[key] = v // a finished verdict of an earlier push is replaced
	}
	s.mu.Unlock()
	if dup {
		_ = file.Abort()
		err := fmt.Errorf("%w: %q of task %s is being received already", ErrBadOffer, o.Name, o.Task.Short())
		_ = r.Reply(encodeResult(NewResult(o, core.Digest{}, 0, 0, time.Since(start), err)))
		return
	}
	_ = r.Reply(encodeResult(&Result{Task: o.Task, Code: CodeAccepted, Name: o.Name}))

	f, err := s.fetch(o, log)
	var (
		sum      core.Digest
		fromSeed int64
	)
	if err == nil {
		fromSeed = f.fromSeed
		sum, err = s.place(file, f.output, f.sum, log)
	}
	if err != nil {
		_ = file.Abort()
		log.Warn("push: file failed", "err", err)
	} else {
		log.Info("push: file placed", "bytes", o.Layout.Size, "from_pusher", fromSeed, "elapsed", time.Since(start))
	}
	v.res = encodeResult(NewResult(o, sum, file.Written(), fromSeed, time.Since(start), err))
	close(v.done)
	time.AfterFunc(verdictTTL, func() { s.forgetVerdict(key, v) })
	if f != nil {
		s.linger(f)
	}
}

// await answers Await a with the verdict on its offer once there is one.
func (s *Server) await(r *msg.Request, a *Await) {
	o := &Offer{Task: a.Task, Name: a.Name}
	if err := s.recv.Authorize(a.Token, nil); err != nil {
		_ = r.Reply(encodeResult(NewResult(o, core.Digest{}, 0, 0, 0, err)))
		return
	}
	s.mu.Lock()
	v := s.verdicts[verdictKey{a.Task, a.Name}]
	s.mu.Unlock()
	if v == nil {
		err := fmt.Errorf("%w: no offer of %q for task %s (never accepted, or its verdict expired)", ErrBadOffer, a.Name, a.Task.Short())
		_ = r.Reply(encodeResult(NewResult(o, core.Digest{}, 0, 0, 0, err)))
		return
	}
	// The offer's goroutine always ends with a verdict; when the server
	// closes, that is the cancellation.
	<-v.done
	_ = r.Reply(v.res)
}

// forgetVerdict drops v, the verdict of key, if it is still the one kept.
func (s *Server) forgetVerdict(key verdictKey, v *verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.verdicts[key] == v {
		delete(s.verdicts, key)
	}
}

// fetched is a finished download, still seeded by its daemon.
type fetched struct {
	d        *daemon.Daemon
	dir      string
	output   string
	sum      core.Digest // whole-file SHA-256 the daemon verified, or the offer's for a manifest-verified copy
	fromSeed int64
	run      chan struct{} // closed when the daemon's Run returned
}

// fetch downloads the offer's task with a daemon of its own that joins the
// pusher's swarm. On error nothing is left; on success the caller must
// linger (which closes the daemon and removes its directory).
func (s *Server) fetch(o *Offer, log *slog.Logger) (*fetched, error) {
	dir, err := os.MkdirTemp(s.cfg.DataDir, "push-"+o.Task.Short()+"-")
	if err != nil {
		return nil, fmt.Errorf("push: data dir: %w", diskErr("mkdir", err))
	}
	dcfg := s.cfg.Daemon
	dcfg.DataDir, dcfg.Scheduler, dcfg.Token, dcfg.Socket = filepath.Join(dir, "store"), o.Scheduler, o.Token, ""
	// The output is only read, by place, on the store's file system: a
	// hard link instead of a copy and an fsync of the whole file.
	dcfg.ExportByLink = true
	dcfg.Listen = net.JoinHostPort(s.host, "0")
	d, err := daemon.New(dcfg, log.With("component", "daemon"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("push: daemon: %w", err)
	}
	f := &fetched{d: d, dir: dir, output: filepath.Join(dir, "out"), run: make(chan struct{})}
	s.wg.Go(func() {
		defer close(f.run)
		_ = d.Run(s.ctx)
	})
	fail := func(err error) (*fetched, error) {
		_ = d.Close()
		<-f.run
		_ = os.RemoveAll(dir)
		return nil, err
	}
	req := daemon.Request{
		URL: o.Source, Digest: o.Digest, PieceSize: o.Layout.PieceSize, PieceDigests: o.Pieces, Output: f.output,
	}
	// A task named by its manifest (as pushers name them when the offer
	// carries one) is fetched by the manifest alone: every piece, from
	// the other receivers and from the pusher, is checked against it
	// before it is kept, so the copy is the pusher's file piece by piece,
	// and the whole-file digest, which the pusher computed in the same
	// read as the manifest, is not computed again: that second SHA-256
	// pass over every byte was half of the receivers' CPU time.
	byManifest := len(o.Pieces) > 0 && o.Task == core.TaskIDForManifest(o.Pieces, o.Layout.PieceSize)
	if byManifest {
		req.Digest = core.Digest{}
	}
	tr, err := d.Download(s.ctx, req)
	if err != nil {
		return fail(fetchErr(err))
	}
	if err := tr.Wait(s.ctx); err != nil {
		return fail(fetchErr(err))
	}
	p := tr.Progress()
	if p.Size != o.Layout.Size {
		return fail(fmt.Errorf("%w: the source has %d bytes, the offer %d", ErrSize, p.Size, o.Layout.Size))
	}
	f.fromSeed, f.sum = p.FromSource, p.Sum
	if byManifest {
		f.sum = o.Digest // every piece matched the manifest
	}
	return f, nil
}

// fetchErr classifies a daemon's download error for the pusher.
func fetchErr(err error) error {
	if errors.Is(err, daemon.ErrDiskFull) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return fmt.Errorf("%w: %w", ErrFetch, err)
}

// place puts the download at p, whose SHA-256 the daemon verified to be
// sum (or whose pieces it verified against the manifest of digest sum),
// into file and commits it: by a hard link to the daemon's task file where
// one can be made ([File.LinkVerified]), else by a copy in the kernel;
// only if the daemon reported no sum is it copied and hashed through user
// space.
func (s *Server) place(file *File, p string, sum core.Digest, log *slog.Logger) (core.Digest, error) {
	start := time.Now()
	linked := false
	if !sum.IsZero() {
		var err error
		if linked, err = file.LinkVerified(p, sum); err != nil {
			return core.Digest{}, err
		}
	}
	if !linked {
		src, err := os.Open(p)
		if err != nil {
			return core.Digest{}, fmt.Errorf("push: %w", err)
		}
		defer func() { _ = src.Close() }()
		if sum.IsZero() {
			_, err = file.ReadFrom(src)
		} else {
			_, err = file.CopyVerified(src, sum)
		}
		if err != nil {
			return core.Digest{}, err
		}
	}
	_ = os.Remove(p) // the store keeps the pieces for the linger
	copied := time.Now()
	sum, err := file.Commit()
	log.Debug("push: placement", "linked", linked, "copy", copied.Sub(start), "commit", time.Since(copied))
	return sum, err
}

// linger keeps f's daemon seeding for the configured time (or until
// Close), then closes it and removes its directory.
func (s *Server) linger(f *fetched) {
	if s.cfg.Linger > 0 {
		t := time.NewTimer(s.cfg.Linger)
		select {
		case <-t.C:
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	_ = f.d.Close()
	<-f.run
	_ = os.RemoveAll(f.dir)
}

// encodeResult encodes r; a Result that does not encode (a bug) becomes
// a bare internal error.
func encodeResult(r *Result) []byte {
	b, err := r.Append(nil)
	if err != nil {
		b, _ = (&Result{Code: CodeInternal, Text: "receiver: result does not encode"}).Append(nil)
	}
	return b
}
