// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pollen-dev/pollen/wire/wiretest"
)

// waitAbort returns the next abort reported on ch.
func waitAbort(t *testing.T, ch chan *AbortError) *AbortError {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no abort reported")
		return nil
	}
}

// checkOthersGoOn sends a message over a second, healthy connection pair.
func checkOthersGoOn(t *testing.T, p *muxPair, pair pairFunc) {
	t.Helper()
	x, y := pair(t)
	if err := p.a.Attach(x); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Attach(y); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.sa.Send(ctxT(t), frame(99, 100)) }()
	if id := recvFrame(t, p.sb); id != 99 {
		t.Fatalf("after abort got %d", id)
	}
}

// retryAfterWriteFailure sends a large message with send on a connection
// that fails in the middle of it, checks that both ends abort it, attaches
// another connection and checks that the message arrives whole on it.
func retryAfterWriteFailure(t *testing.T, pair pairFunc, send func(s *Socket, big []byte) error) *muxPair {
	t.Helper()
	p := newMuxPair(t, Config{}, 0, pair)
	x, y := pair(t)
	fx := wiretest.NewFaultConn(x, wiretest.Faults{FailAfter: 100 << 10, Reset: true})
	if err := p.a.Attach(fx); err != nil {
		t.Fatal(err)
	}
	if err := p.b.Attach(y); err != nil {
		t.Fatal(err)
	}
	big := frame(7, 500<<10) // buffered: a pipe would block on a stream nobody reads
	errc := make(chan error, 1)
	go func() { errc <- send(p.sa, big) }()
	e := waitAbort(t, p.abortsA)
	// The write fails, and the reader sees its closed connection: either
	// may report the abort.
	if e.Conn != fx {
		t.Fatalf("sender abort %v on the wrong connection", e)
	}
	// The receiver sees the connection end in the middle of a message.
	if e := waitAbort(t, p.aborts); !errors.Is(e.Err, ErrTruncatedMessage) {
		t.Fatalf("receiver abort: %v", e)
	}
	// The sender waits for a connection; give it one.
	x2, y2 := pair(t)
	if err := p.b.Attach(y2); err != nil {
		t.Fatal(err)
	}
	if err := p.a.Attach(x2); err != nil {
		t.Fatal(err)
	}
	if id := recvFrame(t, p.sb); id != 7 {
		t.Fatalf("got %d", id)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRetryAfterWriteFailure fails a connection in the middle of a large
// message: the message must arrive whole on another connection (T14).
func TestRetryAfterWriteFailure(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := retryAfterWriteFailure(t, pair, func(s *Socket, big []byte) error {
			return s.Send(ctxT(t), big)
		})
		st := p.a.Stats()
		if st.Mux.TxRetries != 1 || st.Mux.TxAborts != 1 || st.Mux.Aborts != 1 || st.Sockets[0].TxRetries != 1 {
			t.Fatalf("retries %d tx aborts %d aborts %d", st.Mux.TxRetries, st.Mux.TxAborts, st.Mux.Aborts)
		}
		if rs := p.b.Stats(); rs.Mux.RxTruncated != 1 || rs.Mux.RxAborts != 1 {
			t.Fatalf("receiver truncated %d aborts %d", rs.Mux.RxTruncated, rs.Mux.RxAborts)
		}
	})
}

// TestSendVecRetryAfterWriteFailure fails a connection in the middle of a
// message sent in parts: it must arrive whole on another connection,
// parts written before the failure included.
func TestSendVecRetryAfterWriteFailure(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := retryAfterWriteFailure(t, pair, func(s *Socket, big []byte) error {
			return s.SendVec(ctxT(t), big[:FrameHeaderLen], big[FrameHeaderLen:50<<10], big[50<<10:])
		})
		st := p.a.Stats()
		if st.Mux.TxRetries != 1 || st.Mux.TxMsgs != 1 || st.Sockets[0].TxMsgs != 1 {
			t.Fatalf("retries %d, tx msgs %d, socket %d", st.Mux.TxRetries, st.Mux.TxMsgs, st.Sockets[0].TxMsgs)
		}
	})
}

// TestRetryAfterReset resets a real TCP connection from the far end while a
// large message is being written to it.
func TestRetryAfterReset(t *testing.T) {
	checkLeaks(t)
	p := newMuxPair(t, Config{}, 0, tcpPair)
	x, y := tcpPair(t)
	// Small buffers, so that the message cannot fit in them before the
	// reset: a message handed whole to the kernel is not retried.
	x.(*net.TCPConn).SetWriteBuffer(32 << 10)
	y.(*net.TCPConn).SetReadBuffer(32 << 10)
	if err := p.a.Attach(x); err != nil {
		t.Fatal(err)
	}
	go func() {
		io.CopyN(io.Discard, y, 64<<10)
		y.(*net.TCPConn).SetLinger(0)
		y.Close()
	}()
	errc := make(chan error, 1)
	go func() { errc <- p.sa.Send(ctxT(t), frame(5, 8<<20)) }()
	e := waitAbort(t, p.abortsA)
	t.Logf("abort: %v", e)
	x2, y2 := tcpPair(t)
	p.b.Attach(y2)
	p.a.Attach(x2)
	if id := recvFrame(t, p.sb); id != 5 {
		t.Fatalf("got %d", id)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st := p.a.Stats(); st.Mux.TxRetries != 1 {
		t.Fatalf("TxRetries %d", st.Mux.TxRetries)
	}
}

// TestOversize has a peer claim a 4 GiB message: its connection is aborted
// with ErrMessageTooLarge before anything is allocated; others go on (T5).
func TestOversize(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 0, pair)
		x, y := pair(t)
		if err := p.b.Attach(y); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		go x.Write(FrameHeader{Length: 1<<32 - 1, Version: 1}.Append(nil))
		e := waitAbort(t, p.aborts)
		runtime.ReadMemStats(&after)
		if !errors.Is(e.Err, ErrMessageTooLarge) {
			t.Fatalf("abort: %v", e)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
			t.Errorf("allocated %d bytes for a refused message", d)
		}
		if st := p.b.Stats(); st.Mux.RxTooBig != 1 {
			t.Errorf("RxTooBig %d", st.Mux.RxTooBig)
		}
		// The connection is closed.
		if _, err := x.Write([]byte("more")); err == nil {
			x.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := x.Read(make([]byte, 1)); err == nil {
				t.Error("aborted connection still open")
			}
		}
		checkOthersGoOn(t, p, pair)
	})
}

// TestBadParser checks parsers that return nonsense (T6, T8).
func TestBadParser(t *testing.T) {
	// shrinking asks for more bytes once, then answers a length shorter
	// than what it already had. (Deciding by len(head) alone let a reader
	// that got 4 bytes in its first read take 2-byte messages until the
	// queue was full.) One per connection: it counts calls.
	shrinking := func() Parser {
		calls := 0
		return ParserFunc(func(head []byte) (int, error) {
			calls++
			if calls == 1 {
				return 0, nil
			}
			return 1, nil
		})
	}
	fixed := func(p Parser) func() Parser { return func() Parser { return p } }
	errParse := errors.New("no such frame")
	tests := []struct {
		name   string
		parser func() Parser
		chunk  int
		want   error
	}{
		{"negative", fixed(ParserFunc(func([]byte) (int, error) { return -5, nil })), 0, ErrBadLength},
		{"shrinking", shrinking, 1, ErrBadLength},
		{"error", fixed(ParserFunc(func([]byte) (int, error) { return 0, errParse })), 0, errParse},
		{"lengthprefix-underflow", fixed(LengthPrefix{Size: 4, Adjust: -100}), 0, ErrBadLength},
		{"never-decides", fixed(ParserFunc(func([]byte) (int, error) { return 0, nil })), 0, ErrBadLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testConnTypes(t, func(t *testing.T, pair pairFunc) {
				p := newMuxPair(t, Config{Parser: tc.parser(), ReadBufferSize: 1024}, 0, pair)
				x, y := pair(t)
				if err := p.b.Attach(y); err != nil {
					t.Fatal(err)
				}
				w := io.Writer(x)
				if tc.chunk > 0 {
					w = wiretest.NewFaultConn(x, wiretest.Faults{WriteChunk: tc.chunk})
				}
				go w.Write(make([]byte, 2000))
				e := waitAbort(t, p.aborts)
				if !errors.Is(e.Err, tc.want) {
					t.Fatalf("abort %v, want %v", e, tc.want)
				}
				var pe *ParserError
				if errors.Is(tc.want, errParse) && !errors.As(e.Err, &pe) {
					t.Fatalf("abort %v is not a ParserError", e)
				}
				var ae *AbortError
				if !errors.As(error(e), &ae) || ae.Conn != y {
					t.Fatal("AbortError does not name the connection")
				}
			})
		})
	}
}

// TestTruncatedMessage closes or resets a connection in the middle of a
// message: ErrTruncatedMessage on that connection only.
func TestTruncatedMessage(t *testing.T) {
	for _, size := range []int{100, 200 << 10, 3 << 20} { // buffered, large, streamed
		testConnTypes(t, func(t *testing.T, pair pairFunc) {
			p := newMuxPair(t, Config{}, 0, pair)
			x, y := pair(t)
			if err := p.b.Attach(y); err != nil {
				t.Fatal(err)
			}
			f := frame(1, size)
			fx := wiretest.NewFaultConn(x, wiretest.Faults{FailAfter: int64(len(f) / 2), Reset: true})
			go fx.Write(f)
			if size >= 1<<20 {
				// A streamed message is handed over before it is complete.
				msg, err := p.sb.Receive(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.Copy(io.Discard, msg)
				msg.Release()
				if !errors.Is(err, ErrTruncatedMessage) {
					t.Fatalf("stream read: %v", err)
				}
			}
			e := waitAbort(t, p.aborts)
			if !errors.Is(e.Err, ErrTruncatedMessage) {
				t.Fatalf("abort %v", e)
			}
			checkOthersGoOn(t, p, pair)
		})
	}
}

// TestGarbageAfterValid sends a valid message followed by garbage: the valid
// message is delivered, then the connection is aborted.
func TestGarbageAfterValid(t *testing.T) {
	versioned := ParserFunc(func(head []byte) (int, error) {
		if len(head) >= 5 && head[4] != ProtocolVersion {
			return 0, errors.New("unknown version")
		}
		return Frames().Parse(head)
	})
	for _, parser := range []Parser{Frames(), versioned} {
		testConnTypes(t, func(t *testing.T, pair pairFunc) {
			p := newMuxPair(t, Config{Parser: parser}, 0, pair)
			x, y := pair(t)
			if err := p.b.Attach(y); err != nil {
				t.Fatal(err)
			}
			b := append(frame(3, 50), 0xff, 0xff, 0xff, 0xff, 0x63, 0, 0, 0)
			go x.Write(b)
			if id := recvFrame(t, p.sb); id != 3 {
				t.Fatalf("got %d", id)
			}
			e := waitAbort(t, p.aborts)
			var pe *ParserError
			if !errors.Is(e.Err, ErrMessageTooLarge) && !errors.As(e.Err, &pe) {
				t.Fatalf("abort %v", e)
			}
			checkOthersGoOn(t, p, pair)
		})
	}
}

// TestAssemblyTimeout has a peer send one byte per second: with a 5 s
// assembly timeout the connection is aborted exactly 5 s after the
// message's first byte (T7).
func TestAssemblyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		aborts := make(chan *AbortError, 1)
		m, err := NewMux(Config{AssemblyTimeout: 5 * time.Second, OnAbort: func(e *AbortError) { aborts <- e }})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		x, y := net.Pipe()
		defer x.Close()
		if err := m.Attach(y); err != nil {
			t.Fatal(err)
		}
		s := m.NewSocket()
		writerDone := make(chan struct{})
		defer func() { <-writerDone }()
		// A whole message first, quickly: it must not start the clock.
		go func() {
			defer close(writerDone)
			x.Write(frame(1, 8))
			time.Sleep(10 * time.Second)
			slow := wiretest.NewFaultConn(x, wiretest.Faults{WriteChunk: 1, WriteDelay: time.Second})
			slow.Write(frame(2, 100))
		}()
		msg, err := s.Receive(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		msg.Release()
		start := time.Now()
		got := <-aborts
		// The first slow byte is written at 10 s + 1 s.
		if d := time.Since(start); d != 16*time.Second {
			t.Errorf("aborted after %v, want 16s", d)
		}
		if !errors.Is(got.Err, ErrAssemblyTimeout) {
			t.Fatalf("abort %v", got)
		}
		if st := m.Stats(); st.Mux.RxTimeouts != 1 {
			t.Fatalf("RxTimeouts %d", st.Mux.RxTimeouts)
		}
	})
}

// TestDetachStreamedMessage detaches a connection while a receiver holds a
// streamed message from it.
func TestDetachStreamedMessage(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{StreamThreshold: 1000}, 1, pair)
		go func() { _ = p.sa.Send(ctxT(t), frame(1, 1<<20)) }()
		msg, err := p.sb.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(msg, buf); err != nil {
			t.Fatal(err)
		}
		if err := p.b.Detach(p.bc[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, msg); !errors.Is(err, ErrTruncatedMessage) {
			t.Fatalf("read after detach: %v", err)
		}
		msg.Release()
		// The sender may be stuck writing to a peer that no longer
		// reads: closing its conn ends that.
		p.bc[0].Close()
	})
}

// TestSendContextCancel withdraws a queued send whose context ends.
func TestSendContextCancel(t *testing.T) {
	checkLeaks(t)
	p := newMuxPair(t, Config{}, 0, pipePair)
	x, y := pipePair(t)
	if err := p.a.Attach(x); err != nil {
		t.Fatal(err)
	}
	// Nobody reads y: the first send blocks in Write, holding the conn.
	go func() { _ = p.sa.Send(context.Background(), frame(1, 100)) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := p.a.NewSocket().Send(ctx, frame(2, 100)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v", err)
	}
	var hdr [FrameHeaderLen]byte
	io.ReadFull(y, hdr[:])
	if n := binary.BigEndian.Uint32(hdr[:]); n != 100 {
		t.Fatalf("first frame length %d", n)
	}
	io.CopyN(io.Discard, y, 100)
}

// TestCloseWhileWriteBlocked closes a mux whose writer is blocked on a peer
// that does not read: Close must return, and the sender gets ErrClosed.
func TestCloseWhileWriteBlocked(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		m, err := NewMux(Config{})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := pair(t)
		if err := m.Attach(x); err != nil {
			t.Fatal(err)
		}
		s := m.NewSocket()
		errc := make(chan error, 2)
		big := make([]byte, 16<<20) // content does not matter: nobody reads it
		for range 2 {
			go func() { errc <- s.Send(context.Background(), big) }()
		}
		time.Sleep(50 * time.Millisecond)
		closed := make(chan struct{})
		go func() { m.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Close blocked")
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Fatalf("Send = %v", err)
			}
		}
	})
}
