// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveEnds bounds the wait for a Serve loop that should return: a loop
// that misses its wake-up blocks on the queue for ever.
const serveEnds = 10 * time.Second

// startServe runs n.Serve, echoing every request, and returns the channel
// its error arrives on.
func startServe(ctx context.Context, n *Node) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- n.Serve(ctx, func(_ context.Context, r *Request) { _ = r.Reply(r.Message()) })
	}()
	return done
}

func waitServe(t *testing.T, done <-chan error, want error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("Serve returned %v, want %v", err, want)
		}
	case <-time.After(serveEnds):
		t.Fatalf("Serve did not return within %v", serveEnds)
	}
}

func serveEcho(t *testing.T, client *Node, dest, m string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), serveEnds)
	defer cancel()
	r, err := client.Send(ctx, dest, []byte(m))
	if err != nil || string(r) != m {
		t.Fatalf("Send %q: %q, %v", m, r, err)
	}
}

var serveTestSeq atomic.Int64

func serveNode(t *testing.T, cfg Config) (*Node, string) {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := "inproc://serve-test-" + strconv.FormatInt(serveTestSeq.Add(1), 10)
	if err := n.Listen(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n, addr
}

// TestServeEnds checks that a Serve loop waiting on the receive queue (with
// a plain receive, woken through the queue) returns when its context ends
// or its node closes, also when another receiver of the same node takes
// its wake-up, and that the other receivers go on.
func TestServeEnds(t *testing.T) {
	client, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()

	t.Run("context", func(t *testing.T) {
		n, addr := serveNode(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		done := startServe(ctx, n)
		serveEcho(t, client, addr, "one")
		cancel()
		waitServe(t, done, context.Canceled)
	})
	t.Run("close", func(t *testing.T) {
		n, addr := serveNode(t, Config{})
		done := startServe(context.Background(), n)
		serveEcho(t, client, addr, "one")
		_ = n.Close()
		waitServe(t, done, ErrClosed)
	})
	// Two loops (or a loop and a Receive) block on one queue; whichever
	// blocked first takes the first wake-up, so each case runs many
	// times to see both orders.
	t.Run("two-loops", func(t *testing.T) {
		n, addr := serveNode(t, Config{})
		other := startServe(context.Background(), n)
		for i := range 200 {
			ctx, cancel := context.WithCancel(context.Background())
			done := startServe(ctx, n)
			serveEcho(t, client, addr, "before "+strconv.Itoa(i))
			cancel()
			waitServe(t, done, context.Canceled)
			serveEcho(t, client, addr, "after "+strconv.Itoa(i)) // the other loop still serves
		}
		_ = n.Close()
		waitServe(t, other, ErrClosed)
	})
	t.Run("loop-and-receive", func(t *testing.T) {
		n, addr := serveNode(t, Config{})
		for i := range 200 {
			got := make(chan error, 1)
			go func() {
				r, err := n.Receive(context.Background())
				if err == nil {
					err = r.Reply(r.Message())
				}
				got <- err
			}()
			ctx, cancel := context.WithCancel(context.Background())
			done := startServe(ctx, n)
			cancel()
			waitServe(t, done, context.Canceled)
			serveEcho(t, client, addr, "to receive "+strconv.Itoa(i)) // answered by the Receive
			if err := <-got; err != nil {
				t.Fatalf("Receive: %v", err)
			}
		}
	})
	t.Run("close-two-loops", func(t *testing.T) {
		for range 100 {
			n, addr := serveNode(t, Config{})
			a, b := startServe(context.Background(), n), startServe(context.Background(), n)
			serveEcho(t, client, addr, "one")
			_ = n.Close()
			waitServe(t, a, ErrClosed)
			waitServe(t, b, ErrClosed)
		}
	})
	// The context ends while the handler runs and the queue is full: the
	// wake-up cannot be queued (or is queued once the loop took the
	// request, as the end of a context reaches the loop asynchronously),
	// and the loop returns all the same.
	t.Run("queue-full", func(t *testing.T) {
		n, addr := serveNode(t, Config{ReceiveQueue: 1})
		ctx, cancel := context.WithCancel(context.Background())
		inHandler, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- n.Serve(ctx, func(_ context.Context, r *Request) {
				if string(r.Message()) == "hold" {
					close(inHandler)
					<-release
				}
				_ = r.Reply(r.Message())
			})
		}()
		held := make(chan error, 1)
		go func() {
			_, err := client.Send(context.Background(), addr, []byte("hold"))
			held <- err
		}()
		<-inHandler
		queued := make(chan error, 1)
		go func() {
			_, err := client.Send(context.Background(), addr, []byte("queued"))
			queued <- err
		}()
		for len(n.reqs) == 0 { // the queue is full once "queued" is in it
			time.Sleep(time.Millisecond)
		}
		cancel()
		close(release)
		waitServe(t, done, context.Canceled)
		if err := <-held; err != nil {
			t.Fatalf("held request: %v", err)
		}
		_ = n.Close()
		if err := <-queued; err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("queued request after Close: %v, want its reply or ErrClosed", err)
		}
	})
}

// TestLocalSendQueuedAtClose checks that a local Send waiting for room in
// a full receive queue when its destination closes fails with ErrClosed
// and leaves no signal on its recycled txn: a later Send must wait for its
// own reply.
func TestLocalSendQueuedAtClose(t *testing.T) {
	client, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	a, addrA := serveNode(t, Config{ReceiveQueue: 1}) // nobody receives
	errs := make(chan error, 2)
	for _, m := range []string{"queued", "waiting for room"} {
		go func() {
			_, err := client.Send(context.Background(), addrA, []byte(m))
			errs <- err
		}()
	}
	for waiting := 0; waiting < 2; { // both registered with a's waits
		time.Sleep(time.Millisecond)
		a.local.mu.Lock()
		waiting = 0
		for tx := a.local.list.head; tx != nil; tx = tx.waits.next {
			waiting++
		}
		a.local.mu.Unlock()
	}
	_ = a.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("Send to a closed destination: %v, want ErrClosed", err)
		}
	}
	b, addrB := serveNode(t, Config{})
	startServe(context.Background(), b)
	var wg sync.WaitGroup
	for g := range 8 { // pooled txns are per P: send from several goroutines
		wg.Go(func() {
			for i := range 50 {
				m := strconv.Itoa(g) + "/" + strconv.Itoa(i)
				r, err := client.Send(context.Background(), addrB, []byte(m))
				if err != nil || string(r) != m {
					t.Errorf("Send %q after the close: %q, %v", m, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
