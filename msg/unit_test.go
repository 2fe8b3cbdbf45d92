// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestWindow(t *testing.T) {
	w := newWindow(2)
	ctx := context.Background()
	s1, f1, _ := w.acquire(ctx)
	s2, f2, _ := w.acquire(ctx)
	if s1 != 1 || s2 != 2 || f1 != 1 || f2 != 1 {
		t.Fatalf("seqs %d %d floors %d %d", s1, s2, f1, f2)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, _, err := w.acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full window: %v", err)
	}
	got := make(chan [2]uint64)
	go func() {
		s, f, _ := w.acquire(ctx)
		got <- [2]uint64{s, f}
	}()
	w.release(2) // out of order: the floor stays at 1
	select {
	case g := <-got:
		t.Fatalf("acquired %v while 1 is outstanding", g)
	case <-time.After(10 * time.Millisecond):
	}
	w.release(1)
	if g := <-got; g != [2]uint64{3, 3} {
		t.Fatalf("after release: seq, floor = %v, want 3, 3", g)
	}
	w.release(3)
	w.release(3) // twice: ignored
	if s, f, _ := w.acquire(ctx); s != 4 || f != 4 {
		t.Fatalf("seq %d floor %d", s, f)
	}
}

func TestSeqQueue(t *testing.T) {
	var q seqQueue
	next := uint64(0)
	for i := range uint64(1000) {
		q.push(i)
		if i%3 == 0 {
			if s := q.pop(); s != next {
				t.Fatalf("pop %d, want %d", s, next)
			}
			next++
		}
	}
	for q.len() > 0 {
		if s := q.pop(); s != next {
			t.Fatalf("pop %d, want %d", s, next)
		}
		next++
	}
	if next != 1000 || cap(q.q) > 2048 {
		t.Fatalf("popped %d, cap %d", next, cap(q.q))
	}
}

func TestTimeoutCtx(t *testing.T) {
	c := newTimeout(time.Hour)
	if c.Err() != nil {
		t.Fatal("fresh timeout done")
	}
	if _, ok := c.Deadline(); ok {
		t.Fatal("timeout advertises a deadline")
	}
	c.release()
	c = newTimeout(time.Millisecond)
	<-c.Done()
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("fired timeout: %v", c.Err())
	}
	c.release()
	if c2 := newTimeout(time.Hour); c2 == c || c2.Err() != nil {
		t.Fatal("a fired timeout was reused")
	}
}

// TestTimeoutCtxFromDone checks that a timeout runs from the first Done
// call, that one never asked for Done never fires, and that a disarmed
// timeout starts afresh. The contexts are made here, not taken from the
// pool: channels and timers of a synctest bubble must not leave it.
func TestTimeoutCtxFromDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &timeoutCtx{done: make(chan struct{}), d: time.Second}
		time.Sleep(2 * time.Second)
		if c.Err() != nil {
			t.Fatal("a timeout fired before its first Done")
		}
		start := time.Now()
		<-c.Done()
		if got := time.Since(start); got != time.Second {
			t.Fatalf("fired %v after the first Done, want 1s", got)
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("fired timeout: %v", c.Err())
		}
		if c.disarm() {
			t.Fatal("a fired timeout may be reused")
		}

		c = &timeoutCtx{done: make(chan struct{}), d: time.Second}
		_ = c.Done()
		time.Sleep(500 * time.Millisecond)
		if !c.disarm() {
			t.Fatal("a timeout disarmed before it fired may not be reused")
		}
		time.Sleep(time.Second)
		if c.Err() != nil {
			t.Fatal("a disarmed timeout fired")
		}
		start = time.Now()
		<-c.Done() // used again: runs from this Done
		if got := time.Since(start); got != time.Second {
			t.Fatalf("a reused timeout fired %v after its Done, want 1s", got)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {MaxMessage: MaxFrameData - 64<<10}, {MaxStableCarry: MaxFrameData - 64<<10}} {
		if err := c.Validate(); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	for _, c := range []Config{
		{MaxMessage: -1},
		{MaxStableCarry: -1},
		{MaxStableCarry: MaxFrameData - 64<<10 + 1},
		{Window: 1 << 21},
		{RetransmitInterval: time.Second, SessionTTL: 2 * time.Second},
		{ReplyTimeout: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
		if _, err := NewNode(c); err == nil {
			t.Errorf("NewNode(%+v): no error", c)
		}
	}
}

func TestAddresses(t *testing.T) {
	checkLeaks(t)
	n := newNode(t, Config{})
	for _, a := range []string{"", "tcp:127.0.0.1:1", "udp://x", "inproc://"} {
		if err := n.Listen(context.Background(), a); !errors.Is(err, ErrBadAddress) {
			t.Errorf("listen %q: %v", a, err)
		}
		if _, err := n.Send(context.Background(), a, nil); !errors.Is(err, ErrBadAddress) {
			t.Errorf("send to %q: %v", a, err)
		}
	}
	if _, err := n.Send(context.Background(), "inproc://nobody-here", nil); !errors.Is(err, ErrNoDestination) {
		t.Errorf("send to an unknown inproc name: %v", err)
	}
	if err := n.Listen(context.Background(), "inproc://taken"); err != nil {
		t.Fatal(err)
	}
	m := newNode(t, Config{})
	if err := m.Listen(context.Background(), "inproc://taken"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("second listener on one name: %v", err)
	}
	if err := n.Listen(context.Background(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if a := n.Addrs(); len(a) != 2 || a[0] != "inproc://taken" || !strings.HasPrefix(a[1], "tcp://127.0.0.1:") || strings.HasSuffix(a[1], ":0") {
		t.Errorf("addrs %q", a)
	}
}

// A Send to an in-process name reaches the node that holds the name now:
// the sender's cached lookup of its last destination does not outlive the
// node it found.
func TestInprocNameReused(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	client := newNode(t, Config{})
	const addr = "inproc://reused"
	for i := range 3 {
		n, err := NewNode(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Listen(ctx, addr); err != nil {
			t.Fatal(err)
		}
		want := []byte{byte('a' + i)}
		done := make(chan error, 1)
		go func() {
			r, err := n.Receive(ctx)
			if err == nil {
				err = r.Reply(want)
			}
			done <- err
		}()
		got, err := client.Send(ctx, addr, nil)
		if err != nil || string(got) != string(want) {
			t.Fatalf("node %d: reply %q, %v; want %q", i, got, err, want)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Send(ctx, addr, nil); !errors.Is(err, ErrNoDestination) {
			t.Fatalf("after node %d closed: %v, want ErrNoDestination", i, err)
		}
	}
}

// Close fails waiting Sends with ErrClosed, is idempotent, and everything
// after it fails with ErrClosed.
func TestClose(t *testing.T) {
	checkLeaks(t)
	server, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Listen(context.Background(), "inproc://closing"); err != nil {
		t.Fatal(err)
	}
	client := newNode(t, Config{})
	res := make(chan error, 1)
	go func() {
		_, err := client.Send(context.Background(), "inproc://closing", []byte("x"))
		res <- err
	}()
	r, err := server.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := server.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("send to a node that closed: %v", err)
	}
	if err := r.Reply(nil); !errors.Is(err, ErrNotAwaitingReply) {
		t.Fatalf("reply after the sender failed: %v", err)
	}
	if _, err := server.Receive(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("receive after close: %v", err)
	}
	if _, err := server.Send(context.Background(), "inproc://x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := server.Listen(context.Background(), "tcp://127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("listen after close: %v", err)
	}
	if _, err := client.Send(context.Background(), "inproc://closing", nil); !errors.Is(err, ErrNoDestination) {
		t.Fatalf("send to a closed inproc node: %v", err)
	}
}

// dialRaw opens a raw session to n.
func dialRaw(t *testing.T, n *Node, session uint64) (*rawPeer, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.Addr(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := helloFrame{Version: ProtocolVersion, Node: NodeID(session), Session: session}.Append(nil)
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	return newRawPeer(t, c), c
}

// Replies evicted for ReplyCacheBytes are "lost" to a retransmission, never
// run again.
func TestReplyCacheEviction(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", Config{ReplyCacheBytes: 100}, &service{dir: t.TempDir()})
	p, _ := dialRaw(t, server, 1)
	payload := append([]byte{opEcho}, make([]byte, 60)...)
	for seq := uint64(1); seq <= 2; seq++ {
		p.send(requestFrame{Seq: seq, Ack: 1, Msg: payload})
		if f, ok := p.recv().(replyFrame); !ok || f.Seq != seq || len(f.Msg) != 60 {
			t.Fatalf("reply %+v", f)
		}
	}
	p.send(requestFrame{Seq: 1, Ack: 1, Msg: payload, Retransmit: true})
	if f, ok := p.recv().(replyFrame); !ok || f.Seq != 1 || !errors.Is(remoteErr(f.Status, f.Msg), ErrReplyLost) {
		t.Fatalf("retransmission of an evicted reply: %+v", f)
	}
	p.send(requestFrame{Seq: 2, Ack: 1, Msg: payload, Retransmit: true})
	if f, ok := p.recv().(replyFrame); !ok || f.Seq != 2 || f.Status != statusOK || len(f.Msg) != 60 {
		t.Fatalf("retransmission of a cached reply: %+v", f)
	}
	if st := server.Stats(); st.Evicted != 1 || st.CachedReplies != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A full receive queue answers "pending" and forgets the request; its
// retransmission is served later.
func TestReceiveQueueFull(t *testing.T) {
	checkLeaks(t)
	server := newNode(t, Config{ReceiveQueue: 1})
	if err := server.Listen(context.Background(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	p, _ := dialRaw(t, server, 1)
	p.send(requestFrame{Seq: 1, Ack: 1, Msg: []byte("a")})
	p.send(requestFrame{Seq: 2, Ack: 1, Msg: []byte("b")})
	if f, ok := p.recv().(pendingFrame); !ok || f.Seq != 2 {
		t.Fatalf("got %+v, want pending 2", f)
	}
	for _, want := range []string{"a", "b"} {
		if want == "b" {
			p.send(requestFrame{Seq: 2, Ack: 1, Msg: []byte("b"), Retransmit: true})
		}
		r, err := server.Receive(context.Background())
		if err != nil || string(r.Message()) != want {
			t.Fatalf("receive: %v", err)
		}
		if s := r.Sender(); s.ID != 1 {
			t.Fatalf("sender %+v", s)
		}
		_ = r.Reply([]byte(want))
		if f, ok := p.recv().(replyFrame); !ok || string(f.Msg) != want {
			t.Fatalf("reply %+v", f)
		}
	}
	if st := server.Stats(); st.QueueFull != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Sessions beyond MaxSessions are refused; a hello that claims another
// node's session is refused.
func TestSessionLimits(t *testing.T) {
	checkLeaks(t)
	server := newNode(t, Config{MaxSessions: 1})
	if err := server.Listen(context.Background(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	dialRaw(t, server, 1)
	waitFor(t, "the first session", func() bool { return server.Stats().Sessions == 1 })
	for _, hello := range []helloFrame{
		{Version: ProtocolVersion, Node: 2, Session: 2}, // over the limit
		{Version: ProtocolVersion, Node: 3, Session: 1}, // another node's session
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(server.Addr(), "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := hello.Append(nil)
		_, _ = c.Write(b)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !closedByPeer(err) {
			t.Errorf("hello %+v: connection not closed: %v", hello, err)
		}
		_ = c.Close()
	}
	// Garbage instead of a hello is refused too.
	c, err := net.Dial("tcp", strings.TrimPrefix(server.Addr(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !closedByPeer(err) {
		t.Errorf("garbage hello: connection not closed: %v", err)
	}
	_ = c.Close()
}

// closedByPeer reports a read error that means the peer closed the
// connection (EOF, or a reset because our bytes were left unread).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// A sender allowed longer messages than its receiver gets
// ErrMessageTooLarge, whether its request fits the receiver's buffers or
// is long enough to be streamed, and the session goes on.
func TestMessageLimitsDiffer(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir()})
	client := newNode(t, Config{MaxMessage: 1 << 20})
	for _, size := range []int{100 << 10, 512 << 10} {
		m := append([]byte{opEcho}, make([]byte, size)...)
		if _, err := client.Send(context.Background(), server.Addr(), m); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("%d-byte message to a 64 KiB receiver: %v", size, err)
		}
	}
	if got := send(t, client, server.Addr(), []byte{opEcho, 'o', 'k'}); string(got) != "ok" {
		t.Fatalf("echo after refusals: %q", got)
	}
}
