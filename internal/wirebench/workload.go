// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// stallGrace is how long senders may take to finish after the measurement
// window before the client is closed under them and the run fails.
const stallGrace = 10 * time.Second

// ErrStalled reports a transport that did not finish its in-flight messages
// within a grace period after the measurement window.
var ErrStalled = errors.New("wirebench: transport stalled")

// counter is one sender's progress, padded to its own cache line so senders
// do not share one.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// load drives one workload: one goroutine per conn, each running body until
// the load stops (time or count).
type load struct {
	stop      atomic.Bool
	remaining atomic.Int64 // transactions left in count mode; unused in time mode
	counted   bool         // count mode
	counters  []counter

	mu  sync.Mutex // guards err
	err error
}

// next reports whether a sender should start another transaction.
func (l *load) next() bool {
	if l.stop.Load() {
		return false
	}
	if l.counted {
		return l.remaining.Add(-1) >= 0
	}
	return true
}

func (l *load) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.stop.Store(true)
}

func (l *load) sum() int64 {
	var s int64
	for i := range l.counters {
		s += l.counters[i].n.Load()
	}
	return s
}

// start runs body(ctx, i, conn) for every conn of cl in its own goroutine and
// returns a function that waits for them. In time mode the wait first stops
// the load. It closes cl under the senders, fails the load and still waits
// for them if ctx is done or, in time mode, if they do not finish within
// stallGrace.
func (l *load) start(ctx context.Context, cl Client, body func(ctx context.Context, i int, c Conn) error) (wait func() error) {
	conns := cl.Conns()
	l.counters = make([]counter, len(conns))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			if err := body(ctx, i, c); err != nil {
				l.fail(fmt.Errorf("sender %d: %w", i, err))
			}
		})
	}
	return func() error {
		defer cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }() // ends when the senders do; waited for below
		var stalled <-chan time.Time
		if !l.counted {
			l.stop.Store(true)
			timer := time.NewTimer(stallGrace)
			defer timer.Stop()
			stalled = timer.C
		}
		select {
		case <-done:
		case <-ctx.Done():
			l.fail(ctx.Err())
		case <-stalled:
			l.fail(ErrStalled)
		}
		if l.err != nil {
			cancel()
			_ = cl.Close()
			<-done
		}
		return l.err
	}
}

// rrBody is one request/response sender: send a size-byte echo request,
// wait for one reply, count one transaction.
func (l *load) rrBody(size int) func(ctx context.Context, i int, c Conn) error {
	return func(ctx context.Context, i int, c Conn) error {
		msg := newMessage(typeEcho, size)
		buf := make([]byte, len(msg)+HeaderLen)
		for l.next() {
			if err := c.Send(ctx, msg); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			n, err := c.Recv(ctx, buf)
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			if n != len(msg) || buf[5] != typeEcho {
				return fmt.Errorf("%w: reply of %d bytes, type %d", errBadMessage, n, buf[5])
			}
			l.counters[i].n.Add(1)
		}
		return nil
	}
}

// streamBody sends size-byte sink messages from the first conn only, then a
// flush, and waits for the server's ack; it records the ack's arrival.
func (l *load) streamBody(size int, acked *time.Time) func(ctx context.Context, i int, c Conn) error {
	return func(ctx context.Context, i int, c Conn) error {
		if i != 0 {
			return nil
		}
		msg := newMessage(typeSink, size)
		var sent int64
		for l.next() {
			if err := c.Send(ctx, msg); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			sent += int64(len(msg))
			l.counters[i].n.Store(sent)
		}
		if err := c.Send(ctx, countMessage(typeFlush, sent)); err != nil {
			return fmt.Errorf("send flush: %w", err)
		}
		buf := make([]byte, 64)
		n, err := c.Recv(ctx, buf)
		if err != nil {
			return fmt.Errorf("receive ack: %w", err)
		}
		got, err := messageCount(buf[:n], typeAck)
		if err != nil {
			return err
		}
		*acked = time.Now()
		if got < sent {
			return fmt.Errorf("%w: server received %d of %d bytes", errBadMessage, got, sent)
		}
		return nil
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MeasureRR runs request/response with size-byte payloads on every conn of
// cl for warmup plus d and returns the transactions per second of the d
// window.
func MeasureRR(ctx context.Context, cl Client, size int, warmup, d time.Duration) (float64, error) {
	var l load
	wait := l.start(ctx, cl, l.rrBody(size))
	err := sleep(ctx, warmup)
	s0, t0 := l.sum(), time.Now()
	if err == nil {
		err = sleep(ctx, d)
	}
	s1, t1 := l.sum(), time.Now()
	if werr := wait(); werr != nil {
		return 0, werr
	}
	if err != nil {
		return 0, err
	}
	return float64(s1-s0) / t1.Sub(t0).Seconds(), nil
}

// MeasureStream streams size-byte payloads over the first conn of cl for
// warmup plus d, then flushes, and returns the bytes per second from the end
// of the warm-up to the server's acknowledgement of the last byte.
func MeasureStream(ctx context.Context, cl Client, size int, warmup, d time.Duration) (float64, error) {
	var (
		l     load
		acked time.Time
	)
	wait := l.start(ctx, cl, l.streamBody(size, &acked))
	err := sleep(ctx, warmup)
	s0, t0 := l.sum(), time.Now()
	if err == nil {
		err = sleep(ctx, d)
	}
	if werr := wait(); werr != nil {
		return 0, werr
	}
	if err != nil {
		return 0, err
	}
	return float64(l.sum()-s0) / acked.Sub(t0).Seconds(), nil
}

// RoundTrips runs total request/response transactions with size-byte
// payloads spread over the conns of cl (for Go benchmarks).
func RoundTrips(ctx context.Context, cl Client, size, total int) error {
	l := load{counted: true}
	l.remaining.Store(int64(total))
	return l.start(ctx, cl, l.rrBody(size))()
}

// Stream sends count size-byte sink messages over the first conn of cl and
// waits for the server to acknowledge them (for Go benchmarks).
func Stream(ctx context.Context, cl Client, size, count int) error {
	l := load{counted: true}
	l.remaining.Store(int64(count))
	var acked time.Time
	return l.start(ctx, cl, l.streamBody(size, &acked))()
}
