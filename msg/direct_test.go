// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestReceiveNotHeldBySessionWrite checks that a Receive reading a
// session itself (direct.go) never waits to answer a duplicate on that
// session. Session A's connection cannot be written (the peer at the other
// end of the pipe does not read), so both the reply to A's request and the
// answer to its retransmission wait. Receive answered the duplicate in its
// own goroutine, waiting ReplyTimeout for the connection, and so stopped
// taking requests for every session of the node: in internal/daemon the
// scheduler's heartbeats went unanswered and peers expired.
func TestReceiveNotHeldBySessionWrite(t *testing.T) {
	checkLeaks(t)
	cfg := Config{RetransmitInterval: time.Minute, ReplyTimeout: time.Hour, SessionTTL: 24 * time.Hour}
	// Session A, spoken by hand over a pipe that nobody reads.
	srv, x, hello, ctx := pipeSession(t, cfg)
	if _, err := x.Write(hello); err != nil {
		t.Fatal(err)
	}
	// Once A exists it is the session Receive reads itself (and A's
	// loop stops reading), so Receive reads what follows on A.
	waitFor(t, "session A", func() bool { return srv.Stats().Sessions == 1 })
	req, _ := requestFrame{Seq: 1, Ack: 1, Msg: []byte("a")}.Append(nil)
	writeErr := make(chan error, 2)
	go func() {
		_, err := x.Write(req)
		writeErr <- err
	}()
	r, err := srv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	replied := make(chan error, 1)
	go func() { replied <- r.Reply([]byte("a")) }() // cached, then stuck on the pipe

	// A retransmits: Receive, reading A (the session of the last request),
	// reads the duplicate and answers it.
	go func() {
		_, err := x.Write(req)
		writeErr <- err
	}()
	got := make(chan *Request, 1)
	go func() {
		r, err := srv.Receive(ctx)
		if err != nil {
			t.Errorf("Receive: %v", err)
		}
		got <- r
	}()
	// The duplicate is answered from the cache, or with "pending" if it
	// arrived before Reply stored the reply: either answer waits for A's
	// connection just the same.
	waitFor(t, "the duplicate", func() bool {
		st := srv.Stats()
		return st.CachedReplies+st.PendingSent == 1
	})

	// A request of another session must still reach Receive.
	client := newNode(t, cfg)
	sent := make(chan error, 1)
	go func() {
		_, err := client.Send(ctx, srv.Addr(), []byte("b"))
		sent <- err
	}()
	select {
	case r = <-got:
	case <-ctx.Done():
		_ = x.Close()
		t.Fatal("Receive stopped taking requests while it answered a duplicate on a session it cannot write to")
	}
	if r == nil {
		t.FailNow()
	}
	if string(r.Message()) != "b" {
		t.Fatalf("got %q, want b", r.Message())
	}
	if err := r.Reply(nil); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	_ = x.Close()
	_ = srv.Close() // ends the sends waiting for A's connection
	<-replied
	<-writeErr
}

// TestMoverLeavesSessionReadWhileSending checks that a mover is a reader
// of its session (direct.go) only while it waits for the move's frames.
// A mover that stayed one while it sent its chunks stopped the session's
// loop for as long, and the sender's retransmissions went unread and
// unanswered: in internal/daemon the requester's keeper then dropped the
// connection under the move. Here A's mover sends into a pipe nobody
// reads; A's retransmission must still be read.
func TestMoverLeavesSessionReadWhileSending(t *testing.T) {
	checkLeaks(t)
	cfg := Config{RetransmitInterval: time.Minute, ReplyTimeout: time.Hour, SessionTTL: 24 * time.Hour}
	srv, x, hello, ctx := pipeSession(t, cfg)
	req, _ := requestFrame{Seq: 1, Ack: 1, Msg: []byte("a"), HasSeg: true, Access: Write, SegLen: 1 << 20}.Append(nil)
	writeErr := make(chan error, 2)
	go func() {
		_, err := x.Write(append(hello, req...))
		writeErr <- err
	}()
	ra, err := srv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	// A request of another session: with two sessions taking turns no
	// session is hot, and A's loop reads A.
	client := newNode(t, cfg)
	sent := make(chan error, 1)
	go func() {
		_, err := client.Send(ctx, srv.Addr(), []byte("b"))
		sent <- err
	}()
	rb, err := srv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.Reply(nil); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	moved := make(chan error, 1)
	go func() { moved <- ra.MoveTo(ctx, 0, Bytes(make([]byte, 1<<20))) }() // stuck on the pipe
	waitFor(t, "the move's first write", func() bool { return srv.Stats().MovedTo == 0 && len(moved) == 0 && srv.moversOf(7) == 1 })

	go func() {
		_, err := x.Write(req) // A retransmits
		writeErr <- err
	}()
	waitFor(t, "the retransmission to be read", func() bool { return srv.Stats().Duplicates == 1 })
	_ = x.Close()
	_ = srv.Close()
	<-moved
	<-writeErr
}

// moversOf returns the number of moves running on the session.
func (n *Node) moversOf(session uint64) int {
	n.mu.Lock()
	in := n.in[session]
	n.mu.Unlock()
	if in == nil {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.moves)
}

// pipeSession starts a listening node with cfg and hands it the far end of
// a pipe, whose near end it returns with the hello that opens session 7 on
// it (not yet written), and a context for the test.
func pipeSession(t *testing.T, cfg Config) (srv *Node, x net.Conn, hello []byte, ctx context.Context) {
	t.Helper()
	srv = newNode(t, cfg)
	if err := srv.Listen(t.Context(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	x, y := net.Pipe()
	t.Cleanup(func() { _ = x.Close() })
	go srv.handshake(y)
	hello, _ = helloFrame{Version: ProtocolVersion, Node: 7, Session: 7}.Append(nil)
	return srv, x, hello, ctx
}
