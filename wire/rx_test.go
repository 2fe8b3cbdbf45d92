// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// receiverReads reports how many times a receiver took c's read token.
func receiverReads(m *Mux) uint64 {
	c := m.single.Load()
	if c == nil {
		return 0
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.gen
}

// TestDirectReceive checks that with one connection a lone receiver reads
// its messages itself (leader/follower), small, large and streamed ones, in
// order, and that nothing is left queued.
func TestDirectReceive(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{ReadBufferSize: 4096, StreamThreshold: 64 << 10}, 1, pair)
		sizes := []int{8, 100, 3000, 20000, 100 << 10, 8, 5000}
		const rounds = 40
		go func() {
			for i := range rounds {
				size := sizes[i%len(sizes)]
				if err := p.sa.Send(ctxT(t), frame(uint64(i), size)); err != nil {
					return
				}
			}
		}()
		for i := range rounds {
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("got frame %d, want %d", id, i)
			}
		}
		if n := receiverReads(p.b); n == 0 {
			t.Errorf("the receiver never read for itself")
		}
		if st := p.b.Stats().Mux; st.RxMsgs != rounds || st.ReadyQueue != 0 {
			t.Errorf("rx %d msgs, queue %d", st.RxMsgs, st.ReadyQueue)
		}
	})
}

// TestDirectReceiveRequestResponse runs ping-pong between two muxes with
// one connection, one socket each, as the single-sender benchmark does.
func TestDirectReceiveRequestResponse(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 1, pair)
		ctx := ctxT(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 1024)
			for {
				n, err := p.sb.Recv(ctx, buf)
				if err != nil {
					return
				}
				if p.sb.Send(ctx, buf[:n]) != nil {
					return
				}
			}
		}()
		buf := make([]byte, 1024)
		for i := range 500 {
			if err := p.sa.Send(ctx, frame(uint64(i), 8+i%200)); err != nil {
				t.Fatal(err)
			}
			n, err := p.sa.Recv(ctx, buf)
			if err != nil {
				t.Fatal(err)
			}
			if id, err := checkFrame(buf[:n]); err != nil || id != uint64(i) {
				t.Fatalf("reply %d: %v, want %d", id, err, i)
			}
		}
		if receiverReads(p.a) == 0 || receiverReads(p.b) == 0 {
			t.Errorf("receivers never read for themselves: %d, %d", receiverReads(p.a), receiverReads(p.b))
		}
		_ = p.b.Close()
		<-done
	})
}

// TestManyReceiversOneConn checks that every message reaches exactly one of
// many concurrent receivers when they share one connection's token and the
// reader goroutine.
func TestManyReceiversOneConn(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{ReceiveQueue: 4}, 1, pair)
		const total, receivers = 3000, 8
		ctx := ctxT(t)
		var (
			mu   sync.Mutex
			seen = map[uint64]bool{}
			wg   sync.WaitGroup
		)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for range receivers {
			s := p.b.NewSocket()
			wg.Go(func() {
				for {
					msg, err := s.Receive(rctx)
					if err != nil {
						return
					}
					id, err := checkFrame(msg.Bytes())
					msg.Release()
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[id] {
						t.Errorf("frame %d twice", id)
					}
					seen[id] = true
					n := len(seen)
					mu.Unlock()
					if n == total {
						cancel()
					}
				}
			})
		}
		for i := range total {
			if err := p.sa.Send(ctx, frame(uint64(i), 8+i%3000)); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-rctx.Done():
		case <-ctx.Done():
		}
		cancel()
		wg.Wait()
		if len(seen) != total {
			t.Fatalf("received %d of %d", len(seen), total)
		}
	})
}

// newDirectPair is newMuxPair with one connection whose reader goroutines
// never read ahead on their own, warmed up until b's receivers read for
// themselves.
func newDirectPair(t *testing.T, cfg Config, pair pairFunc) *muxPair {
	t.Helper()
	p := newMuxes(t, cfg)
	p.a.idleAfter, p.b.idleAfter = time.Hour, time.Hour
	p.attach(t, pair)
	p.sa, p.sb = p.a.NewSocket(), p.b.NewSocket()
	for i := 0; receiverReads(p.b) == 0; i++ {
		if i == 1000 {
			t.Fatal("the receiver never read for itself")
		}
		sent := make(chan error, 1)
		go func() { sent <- p.sa.Send(ctxT(t), frame(1000000+uint64(i), 8)) }()
		recvFrame(t, p.sb)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// receiveOne receives one frame on s in a goroutine and sends its id on
// the channel it returns, which it closes instead if Receive fails.
func receiveOne(t *testing.T, s *Socket) <-chan uint64 {
	got := make(chan uint64, 1)
	go func() {
		msg, err := s.Receive(ctxT(t))
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		id, _ := checkFrame(msg.Bytes())
		msg.Release()
		got <- id
	}()
	return got
}

// waitHolder waits until a receiver holds c's read token.
func waitHolder(t *testing.T, m *Mux) *conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c := m.single.Load(); c != nil {
			c.rmu.Lock()
			h := c.holder
			c.rmu.Unlock()
			if h == holderRecv {
				return c
			}
		}
		if time.Now().After(deadline) {
			c := m.single.Load()
			c.rmu.Lock()
			defer c.rmu.Unlock()
			t.Fatalf("no receiver took the read token: holder %d, idle %v, waiting %d, queued %d, gen %d",
				c.holder, c.idle, m.waiting.Load(), m.queued.Load(), c.gen)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDirectReceiveCancel checks that a receiver blocked reading the
// connection returns when its context ends or its socket closes, and that
// the connection then goes on working.
func TestDirectReceiveCancel(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{AssemblyTimeout: 5 * time.Second}, pair)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := p.sb.Receive(ctx)
			errc <- err
		}()
		waitHolder(t, p.b)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive after cancel: %v", err)
		}

		s2 := p.b.NewSocket()
		go func() {
			_, err := s2.Receive(t.Context())
			errc <- err
		}()
		waitHolder(t, p.b)
		_ = s2.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}

		for i := range 3 {
			sendAsync(t, p.sa, frame(uint64(i), 100))
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("got %d, want %d", id, i)
			}
		}
		if len(p.aborts) != 0 {
			t.Fatalf("abort: %v", <-p.aborts)
		}
	})
}

// TestAttachWhileReceiverReads checks that a receiver blocked reading the
// only connection does not miss a message arriving on a second connection
// attached meanwhile.
func TestAttachWhileReceiverReads(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{}, pair)
		got := receiveOne(t, p.sb)
		waitHolder(t, p.b)
		x, y := pair(t)
		if err := p.b.Attach(y); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = x.Write(frame(42, 50)) }()
		select {
		case id := <-got:
			if id != 42 {
				t.Fatalf("got %d", id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("message on the second connection never received")
		}
		// With two connections the reader goroutines read: nobody holds
		// a token for long, and both connections deliver.
		for i := range 4 {
			if i%2 == 0 {
				sendAsync(t, p.sa, frame(uint64(i), 50))
			} else {
				go func() { _, _ = x.Write(frame(uint64(i), 50)) }()
			}
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("got %d, want %d", id, i)
			}
		}
	})
}

// TestDetachWhileReceiverReads checks that Detach stops a receiver reading
// the connection, returns, and leaves the receiver waiting for messages from
// connections attached later.
func TestDetachWhileReceiverReads(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{}, pair)
		got := receiveOne(t, p.sb)
		waitHolder(t, p.b)
		detached := make(chan error, 1)
		go func() { detached <- p.b.Detach(p.bc[0]) }()
		select {
		case err := <-detached:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Detach did not return")
		}
		select {
		case id := <-got:
			t.Fatalf("receiver returned %d after detach", id)
		case <-time.After(50 * time.Millisecond):
		}
		// The detached connection is the caller's again, framing intact.
		go func() { _, _ = p.ac[0].Write(frame(7, 50)) }()
		buf := make([]byte, len(frame(7, 50)))
		if _, err := readFull(p.bc[0], buf); err != nil {
			t.Fatal(err)
		}
		if id, err := checkFrame(buf); err != nil || id != 7 {
			t.Fatalf("detached conn: frame %d, %v", id, err)
		}
		if err := p.b.Attach(p.bc[0]); err != nil {
			t.Fatal(err)
		}
		if err := p.sa.Send(ctxT(t), frame(8, 50)); err != nil {
			t.Fatal(err)
		}
		select {
		case id := <-got:
			if id != 8 {
				t.Fatalf("got %d, want 8", id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("receiver never got the message after re-attach")
		}
	})
}

// TestReadAheadAfterReceiversStop checks that once receivers stop, the
// reader goroutine reads ahead again: the queue fills, then back-pressure
// stops it.
func TestReadAheadAfterReceiversStop(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{ReceiveQueue: 4, ReadBufferSize: 4096}, 1, pair)
		ctx := ctxT(t)
		for i := range 10 {
			if err := p.sa.Send(ctx, frame(uint64(i), 100)); err != nil {
				t.Fatal(err)
			}
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("got %d, want %d", id, i)
			}
		}
		sctx, cancel := context.WithCancel(ctx)
		sent := make(chan int, 1)
		go func() {
			n := 0
			for sctx.Err() == nil {
				if p.sa.Send(sctx, frame(uint64(10+n), 1000)) != nil {
					break
				}
				n++
			}
			sent <- n
		}()
		deadline := time.Now().Add(10 * time.Second)
		for p.b.Stats().Mux.ReadyQueue != 4 {
			if time.Now().After(deadline) {
				t.Fatalf("queue %d, want full (4)", p.b.Stats().Mux.ReadyQueue)
			}
			time.Sleep(time.Millisecond)
		}
		rx := p.b.Stats().Mux.RxBytes
		time.Sleep(50 * time.Millisecond)
		if rx2 := p.b.Stats().Mux.RxBytes; rx2 != rx {
			t.Errorf("reader went on reading: %d → %d bytes", rx, rx2)
		}
		cancel()
		drainAsync(p.sb)
		<-sent
	})
}

func readFull(c interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := c.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sendAsync sends msg on s from another goroutine (a pipe's write waits for
// its reader) and fails the test if that fails.
func sendAsync(t *testing.T, s *Socket, msg []byte) {
	t.Helper()
	go func() {
		if err := s.Send(ctxT(t), msg); err != nil {
			t.Error(err)
		}
	}()
}

// TestReceiverContextAfterStaleWake is the lost wake-up behind the
// internal/daemon hangs with msg's direct receivers: the reader goroutine,
// parked watching the context of the last receiver A, saw that context end
// only after receiver B had taken the read token with a context of its
// own. It then forgot B's context as well, so the end of B's context no
// longer cut B's read short and B read on until the peer sent something.
//
// GOMAXPROCS 1 makes the order deterministic: B runs before the reader
// goroutine woken by the end of A's context. The peer writes raw frames:
// sends would pool request channels made in the bubble.
func TestReceiverContextAfterStaleWake(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		m, err := NewMux(Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.idleAfter = time.Hour
		x, y := net.Pipe()
		defer x.Close()
		if err := m.Attach(y); err != nil {
			t.Fatal(err)
		}
		s := m.NewSocket()
		for i := 0; receiverReads(m) == 0; i++ {
			if i == 100 {
				t.Fatal("the receiver never read for itself")
			}
			go func() { _, _ = x.Write(frame(1000+uint64(i), 8)) }()
			recvFrame(t, s)
		}
		for i := range 8 {
			// A reads a message itself; the reader goroutine parks
			// watching A's context.
			ctxA, cancelA := context.WithCancel(t.Context())
			go func() { _, _ = x.Write(frame(uint64(i), 8)) }()
			msg, err := s.Receive(ctxA)
			if err != nil {
				t.Fatal(err)
			}
			msg.Release()
			synctest.Wait()

			// A's context ends, and B takes the token before the reader
			// goroutine gets to run.
			cancelA()
			ctxB, cancelB := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				_, err := s.Receive(ctxB)
				errc <- err
			}()
			synctest.Wait()
			cancelB()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("round %d: Receive after cancel: %v", i, err)
				}
			case <-time.After(time.Minute):
				t.Fatalf("round %d: the end of the receiver's context did not cut its read short", i)
			}
		}
	})
}

// TestDirectRecvIntoBuffer checks Recv on a lone receiver, which cuts a
// message that fits straight into the caller's buffer: messages that fit,
// that do not (ErrTruncated, rest dropped), that came in the same read as
// the one cut into the buffer (queued), and large ones read into their own
// buffer, all in order and counted.
func TestDirectRecvIntoBuffer(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{ReadBufferSize: 4096, StreamThreshold: 64 << 10}, 1, pair)
		sizes := []int{8, 100, 3000, 20000, 100 << 10, 8, 5000, 8, 8, 8}
		const rounds = 60
		var total uint64
		for i := range rounds {
			total += uint64(len(frame(uint64(i), sizes[i%len(sizes)])))
		}
		go func() {
			for i := range rounds {
				if err := p.sa.Send(ctxT(t), frame(uint64(i), sizes[i%len(sizes)])); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 8<<10)
		for i := range rounds {
			want := frame(uint64(i), sizes[i%len(sizes)])
			n, err := p.sb.Recv(ctxT(t), buf)
			if len(want) > len(buf) {
				if !errors.Is(err, ErrTruncated) || n != len(buf) || !bytes.Equal(buf, want[:len(buf)]) {
					t.Fatalf("message %d (%d bytes): n %d, err %v", i, len(want), n, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("message %d: got %d bytes, want %d", i, n, len(want))
			}
		}
		if n := receiverReads(p.b); n == 0 {
			t.Errorf("the receiver never read for itself")
		}
		st := p.b.Stats()
		if st.Mux.RxMsgs != rounds || st.Mux.ReadyQueue != 0 {
			t.Errorf("rx %d msgs, queue %d", st.Mux.RxMsgs, st.Mux.ReadyQueue)
		}
		if s := st.Sockets[0]; s.RxMsgs != rounds || s.RxBytes != total {
			t.Errorf("socket rx %d msgs %d bytes, want %d and %d", s.RxMsgs, s.RxBytes, rounds, total)
		}
	})
}

// holderOf returns m's only connection's token holder.
func holderOf(m *Mux) holder {
	c := m.single.Load()
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.holder
}

// TestDirectStream checks the hand-off of the read token from a receiver
// that reads for itself to a long message it streams: the message is read
// by its receiver straight from the connection (no reader goroutine), the
// end of the receiver's context and a second socket's Receive do not cut
// it short, the token comes back at Release (the rest skipped when
// released early), and the messages after it are delivered in order.
func TestDirectStream(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{StreamThreshold: 64 << 10, AssemblyTimeout: 10 * time.Second}, pair)
		for round := range 3 {
			big := frame(uint64(round), 300<<10)
			ctx, cancel := context.WithCancel(ctxT(t))
			got := make(chan *Message, 1)
			go func() {
				msg, err := p.sb.Receive(ctx)
				if err != nil {
					t.Error(err)
				}
				got <- msg
			}()
			waitHolder(t, p.b)
			sendAsync(t, p.sa, big)
			msg := <-got
			if msg == nil {
				t.FailNow()
			}
			cancel() // the receiver's read is over: this must not cut the stream
			if msg.Bytes() != nil {
				t.Fatalf("round %d: a %d-byte message was buffered", round, msg.Len())
			}
			if h := holderOf(p.b); h != holderStream {
				t.Fatalf("round %d: holder %d while the stream is held", round, h)
			}
			// Another receiver waits meanwhile, and gets the next message.
			s2 := p.b.NewSocket()
			next := make(chan uint64, 1)
			go func() {
				msg, err := s2.Receive(ctxT(t))
				if err != nil {
					t.Error(err)
					next <- 0
					return
				}
				id, err := checkFrame(msg.Bytes())
				if err != nil {
					t.Error(err)
				}
				msg.Release()
				next <- id
			}()
			sendAsync(t, p.sa, frame(100+uint64(round), 100))
			if round == 1 {
				// Released early: the rest is skipped.
				buf := make([]byte, 1000)
				if _, err := io.ReadFull(msg, buf); err != nil {
					t.Fatal(err)
				}
				msg.Release()
			} else {
				b, err := io.ReadAll(msg)
				msg.Release()
				if err != nil {
					t.Fatalf("round %d: %v after %d bytes", round, err, len(b))
				}
				if !bytes.Equal(b, big) {
					t.Fatalf("round %d: stream corrupt (%d bytes)", round, len(b))
				}
			}
			if id := <-next; id != 100+uint64(round) {
				t.Fatalf("round %d: second socket got %d", round, id)
			}
			_ = s2.Close()
		}
		for i := range 3 {
			sendAsync(t, p.sa, frame(uint64(200+i), 100))
			if id := recvFrame(t, p.sb); id != uint64(200+i) {
				t.Fatalf("got %d, want %d", id, 200+i)
			}
		}
		if len(p.aborts) != 0 {
			t.Fatalf("abort: %v", <-p.aborts)
		}
	})
}

// TestCloseWithDirectStreamHeld closes a mux while a receiver holds a
// stream it read for itself and never releases: Close must not wait for
// the release, and the stream then fails.
func TestCloseWithDirectStreamHeld(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{StreamThreshold: 64 << 10}, pair)
		got := make(chan *Message, 1)
		go func() {
			msg, err := p.sb.Receive(ctxT(t))
			if err != nil {
				t.Error(err)
			}
			got <- msg
		}()
		waitHolder(t, p.b)
		go func() { _ = p.sa.Send(ctxT(t), frame(1, 1<<20)) }()
		msg := <-got
		if msg == nil {
			t.FailNow()
		}
		if h := holderOf(p.b); h != holderStream {
			t.Fatalf("holder %d while the stream is held", h)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(msg, buf); err != nil {
			t.Fatal(err)
		}
		_ = p.b.Close()
		if _, err := io.Copy(io.Discard, msg); !errors.Is(err, ErrTruncatedMessage) {
			t.Fatalf("read after close: %v", err)
		}
		msg.Release()
		p.bc[0].Close() // the sender may be blocked writing
	})
}

// TestStreamAfterStreamPeeks checks that after a streamed message the
// connection reads only the head of the next one (peekSize bytes), so a
// streamed message that follows is read by its receiver straight from the
// connection, not first into the read buffer and copied out of it.
func TestStreamAfterStreamPeeks(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newDirectPair(t, Config{StreamThreshold: 64 << 10, AssemblyTimeout: 10 * time.Second}, pair)
		pipe := p.bc[0].LocalAddr().Network() == "pipe"
		const n = 3
		sent := make([]chan error, n)
		for i := range sent {
			sent[i] = make(chan error, 1)
		}
		go func() {
			for i := range n {
				sent[i] <- p.sa.Send(ctxT(t), frame(uint64(i), 100<<10))
			}
		}()
		for i := range n {
			if i > 0 && !pipe {
				// The whole message is on the connection before the
				// receiver reads: a full read would take a buffer of it.
				if err := <-sent[i]; err != nil {
					t.Fatal(err)
				}
			}
			msg, err := p.sb.Receive(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if msg.Bytes() != nil {
				t.Fatalf("message %d: a %d-byte message was buffered", i, msg.Len())
			}
			if k := len(msg.st.prefix); i > 0 && k > peekSize {
				t.Errorf("message %d: %d bytes read ahead into the buffer, want at most %d", i, k, peekSize)
			}
			b, err := io.ReadAll(msg)
			msg.Release()
			if err != nil {
				t.Fatal(err)
			}
			if id, err := checkFrame(b); err != nil || id != uint64(i) {
				t.Fatalf("message %d: id %d, %v", i, id, err)
			}
			if i == 0 || pipe {
				if err := <-sent[i]; err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
