// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// event is one input to the event loop. apply runs on the loop, owns the
// state for its duration and must not block: it answers through a buffered
// channel of capacity one.
type event interface {
	apply(s *state)
}

// result is an event's answer.
type result[T any] struct {
	v   T
	err error
}

type registerEvent struct {
	m   *proto.Register
	res chan<- result[*proto.Registered]
}

func (e registerEvent) apply(s *state) {
	v, err := s.register(e.m)
	e.res <- result[*proto.Registered]{v, err}
}

type joinEvent struct {
	m   *proto.Join
	res chan<- result[*proto.TaskInfo]
}

func (e joinEvent) apply(s *state) {
	v, err := s.join(e.m)
	e.res <- result[*proto.TaskInfo]{v, err}
}

// requestEvent asks for pieces. With a wait it may be parked (a waiter)
// and answered by a later event or its deadline.
type requestEvent struct {
	ctx context.Context
	m   *proto.RequestPieces
	res chan<- result[*proto.Schedule]
}

func (e requestEvent) apply(s *state) {
	s.stats.requests.Add(1)
	s.stats.doneInRequest.Add(uint64(len(e.m.Done)))
	m, err := s.memberOf(e.m.Peer, e.m.Task)
	if err != nil {
		e.res <- result[*proto.Schedule]{nil, err}
		return
	}
	if e.m.Max == 0 {
		e.res <- result[*proto.Schedule]{nil, fmt.Errorf("%w: max 0", ErrBadRequest)}
		return
	}
	if len(e.m.Done) > 0 {
		// Reported first, as a PieceDone would be: the requester's own
		// slots and its parents' free up before its schedule is made.
		if err := s.pieceDone(&proto.PieceDone{Peer: e.m.Peer, Task: e.m.Task, Pieces: e.m.Done}); err != nil {
			e.res <- result[*proto.Schedule]{nil, err}
			return
		}
	}
	now := time.Now()
	sc := s.schedule(m, int(e.m.Max), now)
	wait := min(time.Duration(e.m.WaitMillis)*time.Millisecond, s.cfg.MaxWait)
	if sc.State != proto.StateWait || wait <= 0 {
		e.res <- result[*proto.Schedule]{sc, nil}
		return
	}
	w := &waiter{ctx: e.ctx, m: m, max: int(e.m.Max), deadline: now.Add(wait), res: e.res}
	m.task.waiters = append(m.task.waiters, w)
	s.timer.push(deadline{at: w.deadline, wait: w})
	s.stats.waiting.Add(1)
}

// reportEvent carries the requests answered with an Ack.
type reportEvent struct {
	m   proto.Message // *PieceDone, *PieceFailed, *Evicted, *Leave or *Heartbeat
	res chan<- result[struct{}]
}

func (e reportEvent) apply(s *state) {
	var err error
	switch m := e.m.(type) {
	case *proto.PieceDone:
		s.stats.doneReports.Add(1)
		err = s.pieceDone(m)
	case *proto.PieceFailed:
		err = s.pieceFailed(m)
	case *proto.Evicted:
		err = s.evicted(m)
	case *proto.Leave:
		err = s.leave(m)
	case *proto.Heartbeat:
		err = s.heartbeat(m)
	default:
		err = fmt.Errorf("%w: %v is not a report", ErrBadRequest, e.m.Type())
	}
	e.res <- result[struct{}]{struct{}{}, err}
}

// goneEvent drops a peer whose connection the server saw die.
type goneEvent struct {
	peer core.PeerID
	res  chan<- result[struct{}]
}

func (e goneEvent) apply(s *state) {
	if p := s.peers[e.peer]; p != nil {
		s.dropPeer(p, "gone")
	}
	e.res <- result[struct{}]{}
}

// expectEvent sets how many members a task expects.
type expectEvent struct {
	task core.TaskID
	n    int
	res  chan<- result[struct{}]
}

func (e expectEvent) apply(s *state) {
	e.res <- result[struct{}]{struct{}{}, s.expect(e.task, e.n)}
}

// wake serves parked requests of tasks whose state changed since the last
// event, oldest first. It skips a task where nothing can be assigned to
// anyone: no free parent and no free source slot. While source slots are
// free and some member is idle, idle members' requests go first, so that
// a piece fresh from the origin lands where it is passed on soonest.
func (s *state) wake(now time.Time) {
	for len(s.dirty) > 0 {
		t := s.dirty[len(s.dirty)-1]
		s.dirty = s.dirty[:len(s.dirty)-1]
		t.isDirty = false
		if t.idleMembers > 0 && t.srcInflight < s.cfg.OriginConcurrency {
			s.serveWaiters(t, now, true)
		}
		s.serveWaiters(t, now, false)
	}
}

// serveWaiters answers the parked requests of t that now get something,
// only those of idle members if idleOnly.
func (s *state) serveWaiters(t *task, now time.Time, idleOnly bool) {
	kept := t.waiters[:0]
	for _, w := range t.waiters {
		switch {
		case w.done:
			continue
		case w.ctx.Err() != nil: // the caller went away: assign nothing to it
			s.answer(w, nil, w.ctx.Err())
			continue
		case idleOnly && !w.m.idle(),
			len(t.free) == 0 && t.srcInflight >= s.cfg.OriginConcurrency:
			kept = append(kept, w)
			continue
		}
		if sc := s.schedule(w.m, w.max, now); sc.State != proto.StateWait {
			s.answer(w, sc, nil)
			continue
		}
		kept = append(kept, w)
	}
	clear(t.waiters[len(kept):])
	t.waiters = kept
}
