// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/wire/wiretest"
)

func TestSendReceive(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 1, pair)
		ctx := ctxT(t)
		sizes := []int{8, 100, 4000, 70 << 10, 2 << 20} // buffered, large buffered, streamed
		go func() {
			for i, n := range sizes {
				if err := p.sa.Send(ctx, frame(uint64(i), n)); err != nil {
					t.Errorf("Send: %v", err)
				}
			}
		}()
		for i := range sizes {
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("got message %d, want %d", id, i)
			}
		}
		// And the other way, with Recv.
		go func() {
			if err := p.sb.Send(ctx, frame(42, 100)); err != nil {
				t.Errorf("Send: %v", err)
			}
		}()
		buf := make([]byte, 200)
		n, err := p.sa.Recv(ctx, buf)
		if err != nil || n != FrameHeaderLen+100 {
			t.Fatalf("Recv = %d, %v", n, err)
		}
		if _, err := checkFrame(buf[:n]); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecvTruncated(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{StreamThreshold: 1000}, 1, pair)
		ctx := ctxT(t)
		go func() {
			_ = p.sa.Send(ctx, frame(1, 100))
			_ = p.sa.Send(ctx, frame(2, 5000)) // streamed
			_ = p.sa.Send(ctx, frame(3, 100))
		}()
		buf := make([]byte, 50)
		for range 2 {
			n, err := p.sb.Recv(ctx, buf)
			if n != 50 || !errors.Is(err, ErrTruncated) {
				t.Fatalf("Recv = %d, %v; want 50, ErrTruncated", n, err)
			}
		}
		if id := recvFrame(t, p.sb); id != 3 {
			t.Fatalf("after truncated messages got %d, want 3", id)
		}
	})
}

// TestCutEveryBoundary sends a stream of messages cut in two at every byte
// boundary, and cut into single bytes, and checks the messages (T1).
func TestCutEveryBoundary(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i, n := range []int{8, 9, 100, 8, 300, 17} {
		f := frame(uint64(i), n)
		want = append(want, f)
		stream = append(stream, f...)
	}
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		m, err := NewMux(Config{ReadBufferSize: 512, StreamThreshold: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		s := m.NewSocket()
		ctx := ctxT(t)
		for cut := 0; cut <= len(stream); cut++ {
			x, y := pair(t)
			if err := m.Attach(y); err != nil {
				t.Fatal(err)
			}
			go func() {
				x.Write(stream[:cut])
				x.Write(stream[cut:])
			}()
			for i := range want {
				msg, err := s.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(msg.Bytes(), want[i]) {
					t.Fatalf("cut %d: message %d differs", cut, i)
				}
				msg.Release()
			}
			if err := m.Detach(y); err != nil {
				t.Fatal(err)
			}
		}
		// One byte at a time.
		x, y := pair(t)
		if err := m.Attach(y); err != nil {
			t.Fatal(err)
		}
		fc := wiretest.NewFaultConn(x, wiretest.Faults{WriteChunk: 1})
		go fc.Write(stream)
		for i := range want {
			msg, err := s.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(msg.Bytes(), want[i]) {
				t.Fatalf("bytewise: message %d differs", i)
			}
			msg.Release()
		}
		// Over TCP the kernel may coalesce the bytes; a pipe cannot.
		if st := m.Stats(); st.Conns[0].LocalAddr == "pipe" && st.Mux.RxNeedMore == 0 {
			t.Error("RxNeedMore = 0 after a bytewise stream")
		}
	})
}

// TestConcurrentSenders has many goroutines on several sockets send over
// several connections; every message must arrive whole (T2, T13).
func TestConcurrentSenders(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		const (
			conns   = 4
			sockets = 4
			workers = 4 // per socket
			perW    = 200
		)
		p := newMuxPair(t, Config{StreamThreshold: 64 << 10}, conns, pair)
		ctx := ctxT(t)
		var wg sync.WaitGroup
		for s := range sockets {
			sock := p.a.NewSocket()
			for w := range workers {
				wg.Go(func() {
					for i := range perW {
						id := uint64(s*workers+w)<<32 | uint64(i)
						size := 8 + (i*97+w*13)%3000
						if i%50 == 0 {
							size = 100 << 10 // streamed
						}
						var err error
						if i%3 == 0 {
							err = sock.SendBatch(ctx, [][]byte{frame(id, size), frame(id|1<<31, 20)})
						} else {
							err = sock.Send(ctx, frame(id, size))
						}
						if err != nil {
							t.Errorf("send: %v", err)
							return
						}
					}
				})
			}
		}
		total := sockets * workers * (perW + (perW+2)/3)
		seen := make(map[uint64]bool, total)
		var mu sync.Mutex
		var rg sync.WaitGroup
		for range sockets {
			sock := p.b.NewSocket()
			rg.Go(func() {
				for {
					msg, err := sock.Receive(ctx)
					if err != nil {
						return
					}
					var b []byte
					if b = msg.Bytes(); b == nil {
						b, err = io.ReadAll(msg)
						if err != nil {
							t.Errorf("stream: %v", err)
						}
					}
					id, err := checkFrame(b)
					msg.Release()
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					if seen[id] {
						t.Errorf("message %x twice", id)
					}
					seen[id] = true
					done := len(seen) == total
					mu.Unlock()
					if done {
						p.b.Close()
					}
				}
			})
		}
		wg.Wait()
		rg.Wait()
		if len(seen) != total {
			t.Fatalf("received %d messages, want %d", len(seen), total)
		}
		st := p.a.Stats()
		for _, c := range st.Conns {
			if c.TxMsgs == 0 {
				t.Errorf("conn %d sent nothing: no load balancing", c.ID)
			}
		}
		if st.Mux.TxMsgs != uint64(total) || st.Mux.SocketTxMsgs != uint64(total) {
			t.Errorf("TxMsgs conns %d sockets %d, want %d", st.Mux.TxMsgs, st.Mux.SocketTxMsgs, total)
		}
	})
}

// TestAttachDetachUnderLoad attaches and detaches connections while
// messages flow; nothing may be lost except what a detach drops, and nothing
// may be corrupt.
func TestAttachDetachUnderLoad(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 1, pair)
		ctx := ctxT(t)
		const total = 3000
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range total {
				if err := p.sa.Send(ctx, frame(uint64(i), 8+i%500)); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
		stopChurn := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stopChurn:
					return
				default:
				}
				x, y := pair(t)
				if err := p.b.Attach(y); err != nil {
					t.Error(err)
					return
				}
				if err := p.a.Attach(x); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
				// Detach the sending side, then close it: the receiving
				// side reads what is left, sees EOF between messages and
				// detaches by itself.
				if err := p.a.Detach(x); err != nil {
					t.Error(err)
				}
				x.Close()
			}
		})
		got := 0
		for got < total {
			recvFrame(t, p.sb)
			got++
		}
		close(stopChurn)
		wg.Wait()
		for len(p.aborts) > 0 {
			t.Errorf("abort: %v", <-p.aborts)
		}
		for len(p.abortsA) > 0 {
			t.Errorf("abort A: %v", <-p.abortsA)
		}
		st := p.b.Stats()
		if st.Mux.Aborts != 0 || st.Mux.RxReadyDrops != 0 {
			t.Errorf("aborts %d drops %d", st.Mux.Aborts, st.Mux.RxReadyDrops)
		}
	})
}

func TestAttachErrors(t *testing.T) {
	checkLeaks(t)
	m, _ := NewMux(Config{})
	a, b := pipePair(t)
	if err := m.Attach(a); err != nil {
		t.Fatal(err)
	}
	if err := m.Attach(a); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("second Attach = %v", err)
	}
	if err := m.Detach(b); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("Detach unknown = %v", err)
	}
	if err := m.Detach(a); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(a); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("second Detach = %v", err)
	}
	s := m.NewSocket()
	s.SetReceiveDisabled(true)
	if _, err := s.Receive(t.Context()); !errors.Is(err, ErrReceiveDisabled) {
		t.Fatalf("Receive disabled = %v", err)
	}
	s.SetReceiveDisabled(false)
	m.Close()
	m.Close()
	if err := m.Attach(b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach after Close = %v", err)
	}
	if _, err := s.Receive(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close = %v", err)
	}
	if err := s.Send(t.Context(), frame(1, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := m.NewSocket().Send(t.Context(), frame(1, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send on new socket after Close = %v", err)
	}
	// The connection still works after Detach: it belongs to the caller.
	go a.Write([]byte("x"))
	var one [1]byte
	if _, err := b.Read(one[:]); err != nil {
		t.Fatalf("conn unusable after detach: %v", err)
	}
}

func TestSendWaitsForConn(t *testing.T) {
	checkLeaks(t)
	m, _ := NewMux(Config{})
	defer m.Close()
	s := m.NewSocket()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, frame(1, 8)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send without conns = %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Send(t.Context(), frame(1, 8)) }()
	time.Sleep(10 * time.Millisecond)
	a, b := pipePair(t)
	go io.Copy(io.Discard, b)
	if err := m.Attach(a); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	m2, _ := NewMux(Config{})
	s2 := m2.NewSocket()
	go func() { time.Sleep(10 * time.Millisecond); m2.Close() }()
	if err := s2.Send(t.Context(), frame(1, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send during Close = %v", err)
	}
}

// TestSocketsShareReceive checks that a socket that does not receive stalls
// no one: messages go to the sockets that receive.
func TestSocketsShareReceive(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 2, pair)
		_ = p.b.NewSocket() // never receives
		idle := p.b.NewSocket()
		idle.SetReceiveDisabled(true)
		ctx := ctxT(t)
		go func() {
			for i := range 500 {
				_ = p.sa.Send(ctx, frame(uint64(i), 50))
			}
		}()
		for range 500 {
			recvFrame(t, p.sb)
		}
		st := p.b.Stats()
		if st.Mux.SocketRxMsgs != 500 || st.Mux.RxMsgs != 500 {
			t.Fatalf("stats: %+v", st.Mux)
		}
	})
}

// TestStatsInvariants checks mux RX = Σ socket RX = Σ conn RX after a drain,
// across detached connections and closed sockets (T20).
func TestStatsInvariants(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 3, pair)
		ctx := ctxT(t)
		socks := []*Socket{p.b.NewSocket(), p.b.NewSocket(), p.b.NewSocket()}
		const total = 900
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for i := range total {
				_ = p.sa.Send(ctx, frame(uint64(i), 8+i%100))
			}
		}()
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := 0
		for _, s := range socks {
			wg.Go(func() {
				for {
					mu.Lock()
					if got == total {
						mu.Unlock()
						return
					}
					got++
					mu.Unlock()
					recvFrame(t, s)
				}
			})
		}
		wg.Wait()
		socks[0].Close()
		if err := p.b.Detach(p.bc[0]); err != nil {
			t.Fatal(err)
		}
		st := p.b.Stats()
		var sockRx, sockBytes uint64
		for _, s := range st.Sockets {
			sockRx += s.RxMsgs
			sockBytes += s.RxBytes
		}
		if st.Mux.RxMsgs != total || st.Mux.SocketRxMsgs != total || st.Mux.SocketRxBytes != st.Mux.RxBytes {
			t.Fatalf("mux RX %d/%d bytes, sockets %d/%d", st.Mux.RxMsgs, st.Mux.RxBytes, st.Mux.SocketRxMsgs, st.Mux.SocketRxBytes)
		}
		if len(st.Conns) != 2 || len(st.Sockets) != 3 { // sb + 2 open
			t.Fatalf("%d conns, %d sockets", len(st.Conns), len(st.Sockets))
		}
		<-sent // a Send counts its message after the write, maybe after delivery
		a := p.a.Stats()
		if a.Mux.TxMsgs != total || a.Mux.TxBytes != st.Mux.RxBytes {
			t.Fatalf("sender TX %d/%d, receiver RX %d/%d", a.Mux.TxMsgs, a.Mux.TxBytes, st.Mux.RxMsgs, st.Mux.RxBytes)
		}
	})
}

// TestBackPressure checks that with nobody receiving, the reader stops
// reading, so the peer's writes block and memory stays bounded (T19).
func TestBackPressure(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{ReceiveQueue: 4, ReadBufferSize: 4096}, 1, pair)
		done := make(chan int)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			n := 0
			for ctx.Err() == nil {
				if err := p.sa.Send(ctx, frame(uint64(n), 1000)); err != nil {
					break
				}
				n++
			}
			done <- n
		}()
		time.Sleep(300 * time.Millisecond)
		st := p.b.Stats()
		if st.Mux.ReadyQueue != 4 {
			t.Errorf("ready queue %d, want full (4)", st.Mux.ReadyQueue)
		}
		rx1 := st.Mux.RxBytes
		time.Sleep(100 * time.Millisecond)
		if rx2 := p.b.Stats().Mux.RxBytes; rx2 != rx1 {
			t.Errorf("reader went on reading: %d → %d bytes", rx1, rx2)
		}
		cancel()
		// Unblock the sender (its write may be stuck in the kernel) by
		// draining, then check everything arrives in order.
		drainAsync(p.sb)
		n := <-done
		t.Logf("sent %d messages (%d bytes) before blocking; receiver read %d bytes", n, n*1008, rx1)
		if n > 10000 {
			t.Errorf("sender was never blocked")
		}
	})
}

// TestSendBatchOneWrite checks that a batch leaves in one vectored write on
// one connection, in order (T12).
func TestSendBatchOneWrite(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 3, pair)
		var batch [][]byte
		for i := range 50 {
			batch = append(batch, frame(uint64(i), 10+i))
		}
		batch = append(batch, nil) // empty entries send nothing
		errc := make(chan error, 1)
		go func() { errc <- p.sa.SendBatch(ctxT(t), batch) }()
		for i := range 50 {
			if id := recvFrame(t, p.sb); id != uint64(i) {
				t.Fatalf("message %d arrived as %d", id, i)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		st := p.a.Stats()
		if st.Mux.TxWrites != 1 || st.Mux.TxMsgs != 50 || st.Sockets[0].TxMsgs != 50 {
			t.Fatalf("TxWrites %d TxMsgs %d socket %d", st.Mux.TxWrites, st.Mux.TxMsgs, st.Sockets[0].TxMsgs)
		}
		busy := 0
		for _, c := range st.Conns {
			if c.TxMsgs > 0 {
				busy++
			}
		}
		if busy != 1 {
			t.Fatalf("batch spread over %d connections", busy)
		}
	})
}

// TestSendVec sends messages cut into parts at every kind of place (inside
// the header, at its end, inside the payload, with empty parts): each
// arrives whole, counted as one message, from one write.
func TestSendVec(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxPair(t, Config{}, 1, pair)
		ctx := ctxT(t)
		sizes := []int{8, 100, 4000, 70 << 10, 2 << 20} // buffered, large buffered, streamed
		cuts := [][]int{{}, {3}, {FrameHeaderLen}, {FrameHeaderLen, FrameHeaderLen}, {1, FrameHeaderLen + 5, FrameHeaderLen + 7}}
		var want []uint64
		errc := make(chan error, 1)
		go func() {
			defer close(errc)
			for i, n := range sizes {
				for j, cut := range cuts {
					id := uint64(i*len(cuts) + j)
					b := frame(id, n)
					var parts [][]byte
					at := 0
					for _, c := range cut {
						parts = append(parts, b[at:c])
						at = c
					}
					parts = append(parts, b[at:], nil)
					if err := p.sa.SendVec(ctx, parts...); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
		for i := range sizes {
			for j := range cuts {
				want = append(want, uint64(i*len(cuts)+j))
			}
		}
		for _, w := range want {
			if id := recvFrame(t, p.sb); id != w {
				t.Fatalf("got message %d, want %d", id, w)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		st := p.a.Stats()
		n := uint64(len(want))
		if st.Mux.TxMsgs != n || st.Sockets[0].TxMsgs != n || st.Mux.TxWrites > n {
			t.Fatalf("TxMsgs %d socket %d TxWrites %d, want %d messages", st.Mux.TxMsgs, st.Sockets[0].TxMsgs, st.Mux.TxWrites, n)
		}
		if err := p.sa.SendVec(ctx, nil, []byte{}); err != nil {
			t.Fatalf("empty SendVec: %v", err)
		}
		if st := p.a.Stats(); st.Mux.TxMsgs != n {
			t.Fatalf("an empty SendVec sent something")
		}
	})
}

// TestSendVecAllocs checks that a steady stream of SendVec calls allocates
// nothing, on either side.
func TestSendVecAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts: short mode or race detector")
	}
	p := newMuxPair(t, Config{}, 1, tcpPair)
	ctx := ctxT(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := p.sb.Receive(ctx)
			if err != nil {
				return
			}
			msg.Release()
		}
	}()
	b := frame(1, 4000)
	head, body := b[:FrameHeaderLen], b[FrameHeaderLen:]
	for range 100 { // warm the pools
		if err := p.sa.SendVec(ctx, head, body); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := p.sa.SendVec(ctx, head, body); err != nil {
			t.Fatal(err)
		}
	})
	_ = p.sa.Close()
	_ = p.b.Close()
	<-done
	if allocs > 0.05 {
		t.Fatalf("%.2f allocations per SendVec", allocs)
	}
}

// Received counts the bytes of a streamed message as they arrive, before
// the message is whole, and every byte once.
func TestReceivedCountsStreamedBytes(t *testing.T) {
	testConnTypes(t, func(t *testing.T, pair pairFunc) {
		p := newMuxes(t, Config{StreamThreshold: 1000})
		x, y := pair(t)
		if err := p.b.Attach(y); err != nil {
			t.Fatal(err)
		}
		s := p.b.NewSocket()
		f := frame(1, 5000)
		go func() { _, _ = x.Write(f[:3000]) }()
		m, err := s.Receive(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Release()
		buf := make([]byte, len(f))
		if _, err := io.ReadFull(m, buf[:2500]); err != nil {
			t.Fatal(err)
		}
		if got := p.b.Received(); got < 2500 || got > 3000 {
			t.Fatalf("Received = %d with 2500 of %d bytes read, at most 3000 sent", got, len(f))
		}
		go func() { _, _ = x.Write(f[3000:]) }()
		if _, err := io.ReadFull(m, buf[2500:]); err != nil {
			t.Fatal(err)
		}
		if got := p.b.Received(); got != uint64(len(f)) || !bytes.Equal(buf, f) {
			t.Fatalf("Received = %d after the whole %d-byte message (intact: %v)", got, len(f), bytes.Equal(buf, f))
		}
	})
}
