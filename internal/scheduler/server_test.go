// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/msg"
)

// TestServe runs the protocol over msg (in-process and TCP): register,
// join, request, report, leave, plus a request that does not decode.
func TestServe(t *testing.T) {
	for _, addr := range []string{"inproc://scheduler-test", "tcp://127.0.0.1:0"} {
		t.Run(addr[:3], func(t *testing.T) {
			s, err := New(Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			srv, err := msg.NewNode(msg.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Listen(ctx, addr); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Go(func() { _ = s.Run(ctx) })
			wg.Go(func() {
				if err := s.Serve(ctx, srv); !errors.Is(err, context.Canceled) {
					t.Errorf("Serve = %v", err)
				}
			})
			cli, err := msg.NewNode(msg.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cli.Close()
				cancel()
				wg.Wait()
				_ = srv.Close()
				_ = s.Close()
			}()
			send := func(m proto.Message) proto.Message {
				t.Helper()
				b, err := m.Append(nil)
				if err != nil {
					t.Fatal(err)
				}
				rb, err := cli.Send(ctx, srv.Addr(), b)
				if err != nil {
					t.Fatal(err)
				}
				reply, err := proto.Decode(rb)
				if err != nil {
					t.Fatal(err)
				}
				return reply
			}
			id := simPeerID(0)
			task := core.TaskIDForURL("serve", 1024)
			layout := core.Layout{Size: 4096, PieceSize: 1024}
			steps := []struct {
				req  proto.Message
				want proto.Type
			}{
				{&proto.Register{Peer: id, Addr: "127.0.0.1:7601"}, proto.TypeRegistered},
				{&proto.Join{Peer: id, Task: task, Layout: layout, URL: "http://x/y"}, proto.TypeTaskInfo},
				{&proto.RequestPieces{Peer: id, Task: task, Max: 4, WaitMillis: 100}, proto.TypeSchedule},
				{&proto.PieceDone{Peer: id, Task: task, Pieces: []proto.DonePiece{{Index: 0, Digest: core.Digest{1}}}}, proto.TypeAck},
				{&proto.Heartbeat{Peer: id}, proto.TypeAck},
				{&proto.GetPiece{Task: task}, proto.TypeError},
				{&proto.Leave{Peer: id, All: true}, proto.TypeAck},
			}
			for _, st := range steps {
				if reply := send(st.req); reply.Type() != st.want {
					t.Fatalf("%v: reply %+v, want %v", st.req.Type(), reply, st.want)
				}
			}
			rb, err := cli.Send(ctx, srv.Addr(), []byte{proto.Version, 0x7f})
			if err != nil {
				t.Fatal(err)
			}
			if reply, err := proto.Decode(rb); err != nil || reply.(*proto.Error).Code != proto.CodeBadRequest {
				t.Fatalf("garbage request: %+v, %v", reply, err)
			}
		})
	}
}
