// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/msg/msgtest"
)

// fastCfg retransmits quickly so connection failures are noticed in tests.
var fastCfg = Config{RetransmitInterval: 50 * time.Millisecond, ReplyTimeout: 20 * time.Millisecond, MaxRetransmits: 3}

func listenAddr(t *testing.T, network string) string {
	if network == "tcp" {
		return "tcp://127.0.0.1:0"
	}
	return "unix://" + filepath.Join(t.TempDir(), "s.sock")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A cutRig is the test service on network, whose opWork and opReplyLong
// wait for proceed after their work, and a client whose connections cut
// closes: the at-most-once tests cut the connection between the work and
// the reply.
type cutRig struct {
	server, client *Node
	cut            msgtest.Cutter
	worked         chan struct{} // the work is done; the reply is not sent yet
	proceed        chan struct{} // closed to let the reply go
	replied        chan struct{} // the reply was sent, or failed
}

func newCutRig(t *testing.T, network string) *cutRig {
	t.Helper()
	r := &cutRig{worked: make(chan struct{}, 2), proceed: make(chan struct{}), replied: make(chan struct{}, 2)}
	svc := &service{
		dir:   t.TempDir(),
		work:  func(*Request) { r.worked <- struct{}{}; <-r.proceed },
		after: func() { r.replied <- struct{}{} },
	}
	r.server = startService(t, listenAddr(t, network), fastCfg, svc)
	cfg := fastCfg
	cfg.Dial = r.cut.Dial
	r.client = newNode(t, cfg)
	return r
}

// cutAfterWork waits for the work to be done, then holds dialing and cuts
// the client's one connection.
func (r *cutRig) cutAfterWork(t *testing.T) {
	t.Helper()
	<-r.worked
	r.cut.Hold()
	if k := r.cut.Cut(); k != 1 {
		t.Fatalf("cut %d connections, want 1", k)
	}
}

// V6, issue item 2: the connection is cut after the request ran and before
// its reply reached the sender. The Send retransmits over a new connection
// and gets the reply; the request ran exactly once.
//
// "cached-reply": the receiver replies while the sender cannot reconnect,
// so the reply is lost with the connection and the retransmission is
// answered from the reply cache. "reply-pending": the retransmission
// arrives while the request still runs, is answered "pending", and the
// reply follows on the new connection.
func TestAtMostOnceCutConnection(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		for _, path := range []string{"cached-reply", "reply-pending"} {
			t.Run(network+"/"+path, func(t *testing.T) {
				checkLeaks(t)
				rig := newCutRig(t, network)
				server, client, cut := rig.server, rig.client, &rig.cut

				type result struct {
					reply []byte
					err   error
				}
				res := make(chan result, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					reply, err := client.Send(ctx, server.Addr(), []byte{opWork})
					res <- result{reply, err}
				}()
				rig.cutAfterWork(t)
				switch path {
				case "cached-reply":
					close(rig.proceed)
					<-rig.replied // the reply went nowhere
					cut.Release()
				case "reply-pending":
					cut.Release()
					waitFor(t, "a pending answer", func() bool { return server.Stats().PendingSent > 0 })
					close(rig.proceed)
				}
				r := <-res
				if r.err != nil || string(r.reply) != "done" {
					t.Fatalf("send across the cut: %q %v", r.reply, r.err)
				}
				count := send(t, client, server.Addr(), []byte{opCount})
				if c := binary.BigEndian.Uint64(count); c != 1 {
					t.Fatalf("the request ran %d times", c)
				}
				ss, cs := server.Stats(), client.Stats()
				if ss.Duplicates == 0 || cs.Retransmits == 0 || cut.Dials() < 2 {
					t.Fatalf("no retransmission over a new connection: server %+v client %+v dials %d", ss, cs, cut.Dials())
				}
				if path == "cached-reply" && ss.CachedReplies == 0 {
					t.Fatalf("retransmission not answered from the cache: %+v", ss)
				}
				if path == "reply-pending" && ss.PendingSent == 0 {
					t.Fatalf("no pending answer: %+v", ss)
				}
			})
		}
	}
}

// V7: a receiver that dies while a Send waits makes the Send fail within a
// bounded time instead of hanging.
func TestReceiverDies(t *testing.T) {
	checkLeaks(t)
	server := newNode(t, fastCfg)
	if err := server.Listen(context.Background(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	client := newNode(t, fastCfg)
	res := make(chan error, 1)
	go func() {
		_, err := client.Send(context.Background(), server.Addr(), []byte("never answered"))
		res <- err
	}()
	if _, err := server.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = server.Close()
	select {
	case err := <-res:
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("send to a dead receiver: %v", err)
		}
		t.Logf("send failed %v after the receiver died", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("send to a dead receiver still waiting after 10s")
	}
	// A dial to a dead address fails at once.
	if _, err := client.Send(context.Background(), server.Addr(), []byte("x")); err == nil {
		t.Fatal("send to a closed address succeeded")
	}
}

// An idle session is retired by its sender and forgotten by its receiver;
// the next Send opens a new one.
func TestIdleSessionRetired(t *testing.T) {
	checkLeaks(t)
	cfg := fastCfg
	cfg.SessionTTL = 300 * time.Millisecond
	server := startService(t, "tcp://127.0.0.1:0", cfg, &service{dir: t.TempDir()})
	client := newNode(t, cfg)
	if got := send(t, client, server.Addr(), []byte{opEcho, '1'}); string(got) != "1" {
		t.Fatalf("echo %q", got)
	}
	waitFor(t, "the session to be retired", func() bool {
		client.mu.Lock()
		defer client.mu.Unlock()
		return len(client.out) == 0
	})
	waitFor(t, "the receiver to forget the session", func() bool {
		server.mu.Lock()
		defer server.mu.Unlock()
		return len(server.in) == 0
	})
	if got := send(t, client, server.Addr(), []byte{opEcho, '2'}); string(got) != "2" {
		t.Fatalf("echo %q", got)
	}
	if s := server.Stats().Sessions; s != 2 {
		t.Fatalf("%d sessions, want 2", s)
	}
}
