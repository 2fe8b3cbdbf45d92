// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// TestConcurrentCallers runs many daemons' worth of calls at once on real
// time (run it with -race): peers download a task through long polls, some
// fail pieces, some leave and come back, while others read Stats and send
// heartbeats. Every peer that stays must finish, and the state must add up.
func TestConcurrentCallers(t *testing.T) {
	s, err := New(Config{Seed: 3, AssignTimeout: time.Second, OriginConcurrency: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := runtime.NumGoroutine()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	layout := core.Layout{Size: 64 * 1024, PieceSize: 1024}
	task := core.TaskIDForURL("race", 1024)
	const peers = 16
	var daemons, observer sync.WaitGroup
	errs := make(chan error, peers)
	for i := range peers {
		daemons.Go(func() {
			if err := racePeer(ctx, s, simPeerID(i), task, layout, i%4 == 0); err != nil {
				errs <- err
			}
		})
	}
	stop := make(chan struct{})
	observer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Stats()
			s.Handle(ctx, &proto.Heartbeat{Peer: simPeerID(0)})
			runtime.Gosched()
		}
	})
	daemons.Wait()
	close(stop)
	observer.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkState(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-runDone; !errors.Is(err, ErrClosed) {
		t.Fatalf("Run = %v", err)
	}
	// Every goroutine the test started has been waited for; none of the
	// scheduler's may be left either.
	for range 100 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
}

// racePeer downloads the task through the API. A flaky peer fails every
// fifth piece and leaves and re-joins once half way.
func racePeer(ctx context.Context, s *Scheduler, id core.PeerID, task core.TaskID, layout core.Layout, flaky bool) error {
	if _, err := s.Register(ctx, &proto.Register{Peer: id, Addr: "x:1", Upload: 1e6}); err != nil {
		return err
	}
	join := func(have []byte) error {
		_, err := s.Join(ctx, &proto.Join{Peer: id, Task: task, Layout: layout, Have: have})
		return err
	}
	if err := join(nil); err != nil {
		return err
	}
	have := make([]byte, (layout.Pieces()+7)/8)
	n, left := 0, false
	for k := 0; ; k++ {
		sc, err := s.RequestPieces(ctx, &proto.RequestPieces{Peer: id, Task: task, Max: 4, WaitMillis: 50})
		if err != nil {
			return err
		}
		if sc.State == proto.StateDone {
			return nil
		}
		for j, a := range sc.Assignments {
			parent := core.PeerID{}
			if !a.Source {
				parent = a.Parents[0].Peer
			}
			if flaky && (k+j)%5 == 0 {
				if err := s.PieceFailed(ctx, &proto.PieceFailed{Peer: id, Task: task, Index: a.Index, Parent: parent, Reason: proto.ReasonUnreachable}); err != nil {
					return err
				}
				continue
			}
			if err := s.PieceDone(ctx, &proto.PieceDone{Peer: id, Task: task, Pieces: []proto.DonePiece{{Index: a.Index, Digest: core.Digest{byte(a.Index) + 1}}}}); err != nil {
				return err
			}
			proto.BitmapSet(have, a.Index)
			n++
		}
		if flaky && !left && n > layout.Pieces()/2 {
			left = true
			if err := s.Leave(ctx, &proto.Leave{Peer: id, Task: task}); err != nil {
				return err
			}
			if err := join(have); err != nil {
				return err
			}
		}
	}
}
