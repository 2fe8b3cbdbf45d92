// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"testing"
	"time"
)

// blockingServer serves n with two loops: a request "block" is held until
// release is closed (its Reply's error then goes to replied); any other is
// echoed.
func blockingServer(t *testing.T, n *Node) (held <-chan struct{}, release chan struct{}, replied <-chan error) {
	t.Helper()
	h, rel, rep := make(chan struct{}, 4), make(chan struct{}), make(chan error, 4)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for range 2 {
		go func() {
			_ = n.Serve(ctx, func(_ context.Context, r *Request) {
				if string(r.Message()) != "block" {
					_ = r.Reply(r.Message())
					return
				}
				req := *r
				h <- struct{}{}
				<-rel
				rep <- req.Reply([]byte("late"))
			})
		}()
	}
	return h, rel, rep
}

// TestLocalSendWatch checks that a local Send under a watched context (a
// context used by the node's previous local Sends too, see localwatch.go)
// ends when its context ends, withdrawing the request; that a replaced
// watch still ends the Sends waiting under it, then stops watching; and
// that Close stops the node's watch.
func TestLocalSendWatch(t *testing.T) {
	server, addr := serveNode(t, Config{})
	held, release, replied := blockingServer(t, server)
	client, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()

	send := func(ctx context.Context, m string) <-chan error {
		got := make(chan error, 1)
		go func() {
			r, err := client.Send(ctx, addr, []byte(m))
			if err == nil && string(r) != m && (m != "block" || string(r) != "late") {
				err = errors.New("reply " + string(r))
			}
			got <- err
		}()
		return got
	}
	wait := func(got <-chan error, want error) {
		t.Helper()
		select {
		case err := <-got:
			if !errors.Is(err, want) {
				t.Fatalf("Send: %v, want %v", err, want)
			}
		case <-time.After(serveEnds):
			t.Fatalf("Send did not return within %v", serveEnds)
		}
	}
	watched := func(ctx context.Context) *localWatch {
		t.Helper()
		for range 2 { // the first Send under ctx is remembered, the second watched
			wait(send(ctx, "echo"), nil)
		}
		w := client.watch.Load()
		if w == nil || w.done != ctx.Done() {
			t.Fatal("no watch for a context used twice in a row")
		}
		return w
	}

	ctx1, cancel1 := context.WithCancel(context.Background())
	w1 := watched(ctx1)
	blocked := send(ctx1, "block")
	<-held
	cancel1()
	wait(blocked, context.Canceled)
	release <- struct{}{} // one of the two loops' waits
	if err := <-replied; !errors.Is(err, ErrNotAwaitingReply) {
		t.Fatalf("Reply to a withdrawn request: %v, want ErrNotAwaitingReply", err)
	}
	if w1.stop() {
		t.Fatal("a fired watch is still registered")
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	w2 := watched(ctx2)
	blocked = send(ctx2, "block")
	<-held
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	w3 := watched(ctx3) // replaces w2 while a Send waits under it
	if w3 == w2 || w2.current {
		t.Fatal("watch not replaced")
	}
	release <- struct{}{}
	if err := <-replied; err != nil {
		t.Fatalf("Reply: %v", err)
	}
	wait(blocked, nil)
	if w2.stop() {
		t.Fatal("a replaced watch still registered after its last Send left")
	}
	blocked = send(ctx3, "block")
	<-held
	cancel3()
	wait(blocked, context.Canceled)
	close(release)
	if err := <-replied; !errors.Is(err, ErrNotAwaitingReply) {
		t.Fatalf("Reply to a withdrawn request: %v, want ErrNotAwaitingReply", err)
	}
	ctx4, cancel4 := context.WithCancel(context.Background())
	defer cancel4()
	w4 := watched(ctx4)
	_ = client.Close()
	if w4.stop() {
		t.Fatal("the watch of a closed node is still registered")
	}
}
