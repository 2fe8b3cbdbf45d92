// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// Scheduler answers daemons' requests from state owned by its event loop.
// Create one with [New], run the loop with [Scheduler.Run], stop it with
// [Scheduler.Close] or by cancelling Run's context. Methods called before
// Run starts wait for it (or for their context). Safe for concurrent use.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	events chan event
	stats  counters

	quit      chan struct{} // closed by Close
	quitOnce  sync.Once
	done      chan struct{} // closed when the loop has stopped (or will never run)
	doneOnce  sync.Once
	mu        sync.Mutex // guards the following fields
	started   bool
	closed    bool
	loopEnded chan struct{} // closed when Run returns; nil until Run starts
}

// counters are the Stats, written by the loop, read by anyone.
type counters struct {
	tasks, peers, waiting                atomic.Int64
	fromSource, fromPeers, piecesDone    atomic.Uint64
	failures, corrupt, timeouts, expired atomic.Uint64
	evicted                              atomic.Uint64
	requests, doneReports, doneInRequest atomic.Uint64
}

// Stats is a snapshot of the scheduler's gauges and counters, for metrics.
type Stats struct {
	Tasks   int // tasks with at least one peer
	Peers   int // registered peers
	Waiting int // RequestPieces parked until work appears

	AssignedFromSource uint64 // pieces assigned to be fetched from the source
	AssignedFromPeers  uint64 // pieces assigned to be fetched from a peer
	PiecesDone         uint64 // pieces reported done (first report per peer and piece)
	Failures           uint64 // PieceFailed reports
	Corrupt            uint64 // parents excluded for serving a corrupt piece
	Timeouts           uint64 // assignments taken back after AssignTimeout
	PeersExpired       uint64 // peers dropped for missing heartbeats
	Evicted            uint64 // pieces peers reported evicted while counted as holders
	PieceRequests      uint64 // RequestPieces received
	DoneReports        uint64 // PieceDone messages received
	DoneInRequests     uint64 // pieces reported done inside a RequestPieces
}

// New returns a scheduler. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		cfg:    cfg.withDefaults(),
		log:    logger,
		events: make(chan event, 64),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// Run runs the event loop until ctx is done or Close is called. It
// returns ErrClosed after Close, the context's cause otherwise. Run may be
// called once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.started:
		s.mu.Unlock()
		return ErrRunning
	}
	s.started = true
	s.loopEnded = make(chan struct{})
	s.mu.Unlock()
	defer close(s.loopEnded)
	defer s.doneOnce.Do(func() { close(s.done) })

	st := newState(s.cfg, s.log, &s.stats)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		st.expire(now)
		st.wake(now)
		if len(st.timer) > 0 {
			timer.Reset(st.timer[0].at.Sub(now))
		} else {
			timer.Stop()
		}
		select {
		case ev := <-s.events:
			ev.apply(st)
		case <-timer.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.quit:
			return ErrClosed
		}
	}
}

// Close stops the event loop and waits for Run to return. Pending and later
// calls fail with ErrClosed. Close is idempotent.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	s.closed = true
	ended := s.loopEnded
	s.mu.Unlock()
	s.quitOnce.Do(func() { close(s.quit) })
	if ended != nil {
		<-ended
	}
	s.doneOnce.Do(func() { close(s.done) })
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Scheduler) Stats() Stats {
	c := &s.stats
	return Stats{
		Tasks: int(c.tasks.Load()), Peers: int(c.peers.Load()), Waiting: int(c.waiting.Load()),
		AssignedFromSource: c.fromSource.Load(), AssignedFromPeers: c.fromPeers.Load(),
		PiecesDone: c.piecesDone.Load(), Failures: c.failures.Load(), Corrupt: c.corrupt.Load(),
		Timeouts: c.timeouts.Load(), PeersExpired: c.expired.Load(), Evicted: c.evicted.Load(),
		PieceRequests: c.requests.Load(), DoneReports: c.doneReports.Load(), DoneInRequests: c.doneInRequest.Load(),
	}
}

// call posts the event mk builds and waits for its result.
func call[T any](ctx context.Context, s *Scheduler, mk func(chan<- result[T]) event) (T, error) {
	var zero T
	res := make(chan result[T], 1)
	select {
	case s.events <- mk(res):
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	case <-s.done:
		return zero, ErrClosed
	}
	select {
	case r := <-res:
		return r.v, r.err
	case <-ctx.Done():
		return zero, context.Cause(ctx)
	case <-s.done:
		return zero, ErrClosed
	}
}

// Register adds (or replaces) a peer.
func (s *Scheduler) Register(ctx context.Context, m *proto.Register) (*proto.Registered, error) {
	return call(ctx, s, func(res chan<- result[*proto.Registered]) event { return registerEvent{m, res} })
}

// Join adds a registered peer to a task, creating the task on first use.
func (s *Scheduler) Join(ctx context.Context, m *proto.Join) (*proto.TaskInfo, error) {
	return call(ctx, s, func(res chan<- result[*proto.TaskInfo]) event { return joinEvent{m, res} })
}

// RequestPieces records the pieces m reports done, as PieceDone does, then
// returns the pieces the peer should fetch next and their parents. With
// m.WaitMillis > 0 it waits (up to Config.MaxWait) until at least one piece
// can be assigned; if ctx ends first, nothing is assigned (the done pieces
// stay recorded).
func (s *Scheduler) RequestPieces(ctx context.Context, m *proto.RequestPieces) (*proto.Schedule, error) {
	return call(ctx, s, func(res chan<- result[*proto.Schedule]) event { return requestEvent{ctx, m, res} })
}

// PieceDone records pieces a peer fetched and verified.
func (s *Scheduler) PieceDone(ctx context.Context, m *proto.PieceDone) error {
	return s.report(ctx, m)
}

// PieceFailed records a failed fetch and re-schedules the piece.
func (s *Scheduler) PieceFailed(ctx context.Context, m *proto.PieceFailed) error {
	return s.report(ctx, m)
}

// Evicted records pieces a peer no longer serves.
func (s *Scheduler) Evicted(ctx context.Context, m *proto.Evicted) error { return s.report(ctx, m) }

// Leave takes a peer out of a task, or out of the scheduler.
func (s *Scheduler) Leave(ctx context.Context, m *proto.Leave) error { return s.report(ctx, m) }

// Heartbeat keeps a peer alive.
func (s *Scheduler) Heartbeat(ctx context.Context, m *proto.Heartbeat) error {
	return s.report(ctx, m)
}

// Expect tells the scheduler that n members in all will join task id, as
// a pusher knows its receivers before any of them joins. Until that many
// have joined, a member's share of the source's slots (see
// [Config.OriginConcurrency]) is figured over n members instead of the
// members joined so far, so the first to join do not take every source
// slot while the others are still on their way. n = 0 forgets the
// expectation; a caller lowers n when an expected member will not come
// (its offer was refused). An expectation may come before or after the
// task's first Join and outlives the task's members until forgotten; at
// most MaxTasks tasks have one.
func (s *Scheduler) Expect(ctx context.Context, id core.TaskID, n int) error {
	_, err := call(ctx, s, func(res chan<- result[struct{}]) event { return expectEvent{id, n, res} })
	return err
}

// PeerGone drops a peer at once, as if it had left every task: the server
// calls it when the peer's connection dies. Unknown peers are ignored.
func (s *Scheduler) PeerGone(ctx context.Context, id core.PeerID) error {
	_, err := call(ctx, s, func(res chan<- result[struct{}]) event { return goneEvent{id, res} })
	return err
}

func (s *Scheduler) report(ctx context.Context, m proto.Message) error {
	_, err := call(ctx, s, func(res chan<- result[struct{}]) event { return reportEvent{m, res} })
	return err
}

// Handle answers one request message with its reply: Registered, TaskInfo,
// Schedule, Ack, or an Error carrying the failure's code. It is what the
// network server calls for every message it receives.
func (s *Scheduler) Handle(ctx context.Context, req proto.Message) proto.Message {
	var (
		reply proto.Message
		err   error
	)
	switch m := req.(type) {
	case *proto.Register:
		reply, err = s.Register(ctx, m)
	case *proto.Join:
		reply, err = s.Join(ctx, m)
	case *proto.RequestPieces:
		reply, err = s.RequestPieces(ctx, m)
	case *proto.PieceDone, *proto.PieceFailed, *proto.Evicted, *proto.Leave, *proto.Heartbeat:
		reply, err = &proto.Ack{}, s.report(ctx, m)
	default:
		err = fmt.Errorf("%w: %v is not a scheduler request", ErrBadRequest, req.Type())
	}
	if err != nil {
		return &proto.Error{Code: codeOf(err), Text: truncate(err.Error())}
	}
	return reply
}
