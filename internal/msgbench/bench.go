// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msgbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/msg"
)

// Sizes are the message and move sizes: 32 bytes (the V kernel's message)
// and 64 B to 1 MiB by fours.
var Sizes = []int{32, 64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

// PageSizes are the page reads of M3: small pages, whose data is cached
// with the reply, and long ones, sent with the reply from where they lie.
var PageSizes = []int{512, 1 << 10, 4 << 10, 256 << 10, 1 << 20}

// Options configure [Run].
type Options struct {
	// Duration is the measuring time of one case in one run. 0 means 200ms.
	Duration time.Duration
	// Runs is the number of interleaved repetitions; medians are reported.
	// 0 means 5.
	Runs int
	// Sizes overrides [Sizes] (each 1 to MaxSize).
	Sizes []int
	// Server starts the serving side as a child process; nil serves in
	// this process.
	Server *ServerCommand
	// Log receives progress; nil discards it.
	Log io.Writer
}

// tcpName and friends name the transports in case names and baselines.
const (
	tcpName    = "tcp"
	unixName   = "unix"
	inprocName = "inproc"
)

// Run measures everything and calls add for each result, in order.
func Run(ctx context.Context, opts Options, add func(report.Result) error) error {
	if opts.Duration <= 0 {
		opts.Duration = 200 * time.Millisecond
	}
	if opts.Runs <= 0 {
		opts.Runs = 5
	}
	if opts.Sizes == nil {
		opts.Sizes = Sizes
	}
	for _, n := range opts.Sizes {
		if n < 1 || n > MaxSize {
			return fmt.Errorf("msgbench: size %d not in 1..%d", n, MaxSize)
		}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	var (
		srv *Servers
		err error
	)
	if opts.Server != nil {
		sc := *opts.Server
		if sc.Stderr == opts.Log {
			// The child's output is copied by another goroutine.
			opts.Log = &syncWriter{w: opts.Log}
			sc.Stderr = opts.Log
		}
		srv, err = StartServer(ctx, sc)
	} else {
		dir, derr := os.MkdirTemp("", "pollen-msgbench-")
		if derr != nil {
			return derr
		}
		defer func() { _ = os.RemoveAll(dir) }()
		srv, err = Serve(ctx, dir)
	}
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	b, err := newBench(ctx, opts, srv)
	if err != nil {
		return err
	}
	defer b.close()
	res, err := b.measureAll(ctx)
	if err != nil {
		return err
	}
	for _, r := range res {
		if err := add(r); err != nil {
			return err
		}
	}
	return nil
}

// bench holds the client side: raw connections per size, a msg node, and
// an in-process msg server.
type bench struct {
	opts   Options
	srv    *Servers
	node   *msg.Node // client
	big    *msg.Node // client of messages over 64 KiB
	local  *msg.Node // in-process server
	inproc string
	done   chan struct{} // closed when the in-process server returns
	cancel context.CancelFunc
	raw    map[string]net.Conn // by network/op/size
	buf    []byte
	seg    []byte
}

func newBench(ctx context.Context, opts Options, srv *Servers) (*bench, error) {
	b := &bench{opts: opts, srv: srv, raw: map[string]net.Conn{}, buf: make([]byte, MaxSize), seg: make([]byte, MaxSize), done: make(chan struct{})}
	var err error
	if b.node, err = msg.NewNode(msg.Config{}); err != nil {
		return nil, err
	}
	if b.big, err = msg.NewNode(bigConfig()); err != nil {
		_ = b.node.Close()
		return nil, err
	}
	if b.local, err = msg.NewNode(bigConfig()); err != nil {
		_ = b.node.Close()
		_ = b.big.Close()
		return nil, err
	}
	b.inproc = "inproc://msgbench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := b.local.Listen(ctx, b.inproc); err != nil {
		b.closeNodes()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	go func() { // the in-process server; close waits for it
		defer close(b.done)
		_ = b.local.Serve(sctx, newHandler().serve)
	}()
	return b, nil
}

func (b *bench) close() {
	b.cancel()
	<-b.done
	for _, c := range b.raw {
		_ = c.Close()
	}
	b.closeNodes()
}

func (b *bench) closeNodes() {
	_ = b.node.Close()
	_ = b.big.Close()
	_ = b.local.Close()
}

// rawConn returns the connection for op and size n on network.
func (b *bench) rawConn(ctx context.Context, network string, op byte, n int) (net.Conn, error) {
	key := fmt.Sprint(network, op, n)
	if c := b.raw[key]; c != nil {
		return c, nil
	}
	addr := b.srv.RawTCP
	if network == unixName {
		addr = b.srv.RawUnix
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("msgbench: dial %s: %w", addr, err)
	}
	var setup [5]byte
	setup[0] = op
	binary.BigEndian.PutUint32(setup[1:], uint32(n))
	if _, err := c.Write(setup[:]); err != nil {
		_ = c.Close()
		return nil, err
	}
	b.raw[key] = c
	return c, nil
}

// measure runs op in batches of about 2ms until Duration has passed,
// after a short warm-up, and returns the median over the batches of the
// mean time of one op: a batch during which the shared machine ran
// something else does not move the result.
func (b *bench) measure(ctx context.Context, op func() error) (time.Duration, error) {
	batch := 1
	for { // warm up and size the batch
		start := time.Now()
		for range batch {
			if err := op(); err != nil {
				return 0, err
			}
		}
		if time.Since(start) >= 2*time.Millisecond || batch >= 1<<14 {
			break
		}
		batch *= 2
	}
	var per []float64
	begin := time.Now()
	for len(per) < 3 || time.Since(begin) < b.opts.Duration {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		start := time.Now()
		for range batch {
			if err := op(); err != nil {
				return 0, err
			}
		}
		per = append(per, float64(time.Since(start))/float64(batch))
	}
	return time.Duration(report.Median(per)), nil
}

// rawOp returns one raw exchange: write n bytes, read n (echo) or 32
// (push) bytes.
func (b *bench) rawOp(ctx context.Context, network string, op byte, n int) (func() error, error) {
	c, err := b.rawConn(ctx, network, op, n)
	if err != nil {
		return nil, err
	}
	want := n
	if op == opPush {
		want = 32
	}
	rw := newRawIO(c)
	return func() error {
		if _, err := rw.Write(b.seg[:n]); err != nil {
			return err
		}
		_, err := io.ReadFull(rw, b.buf[:want])
		return err
	}, nil
}

// dest returns the msg server address of a transport, of the server that
// takes long messages with big.
func (b *bench) dest(tr string, big bool) string {
	switch {
	case tr == tcpName && big:
		return b.srv.BigTCP
	case tr == tcpName:
		return b.srv.MsgTCP
	case tr == unixName && big:
		return b.srv.BigUnix
	case tr == unixName:
		return b.srv.MsgUnix
	}
	return b.inproc
}

// srrOp is Send of an n-byte message answered with the same n bytes.
func (b *bench) srrOp(ctx context.Context, tr string, n int) func() error {
	m := make([]byte, n)
	m[0] = msgEcho
	node, big := b.node, n > defaultMax
	if big {
		node = b.big
	}
	dest := b.dest(tr, big)
	dst := make([]byte, 0, n)
	return func() error {
		r, err := node.AppendSend(ctx, dst[:0], dest, m, nil, 0)
		if err == nil && len(r) != n {
			err = fmt.Errorf("msgbench: echo of %d bytes: %q", len(r), r[:min(len(r), 80)])
		}
		return err
	}
}

// moveFromOp is a Send granting read access to n bytes, which the server
// moves with MoveFrom before it replies.
func (b *bench) moveFromOp(ctx context.Context, tr string, n int) func() error {
	m := []byte{msgMoveFrom}
	dest := b.dest(tr, false)
	dst := make([]byte, 0, 64)
	return func() error {
		r, err := b.node.AppendSend(ctx, dst[:0], dest, m, msg.Bytes(b.seg[:n]), msg.Read)
		if err == nil && len(r) != 32 {
			err = fmt.Errorf("msgbench: move from: %q", r)
		}
		return err
	}
}

// pageOp reads an n-byte page from the server: op msgPageRWS (one round
// trip) or msgPageMove (MoveTo, then Reply).
func (b *bench) pageOp(ctx context.Context, op byte, n int) func() error {
	m := make([]byte, 5)
	m[0] = op
	binary.BigEndian.PutUint32(m[1:], uint32(n))
	dst := make([]byte, 0, 64)
	return func() error {
		r, err := b.node.AppendSend(ctx, dst[:0], b.srv.MsgTCP, m, msg.Bytes(b.buf[:n]), msg.Write)
		if err == nil && len(r) != 32 {
			err = fmt.Errorf("msgbench: page read: %q", r)
		}
		return err
	}
}

// A series is the measurements of one case over the runs.
type series map[string][]float64

func (s series) add(name string, d time.Duration) {
	s[name] = append(s[name], float64(d.Nanoseconds())/1e3)
}
func (s series) med(name string) float64 { return report.Median(s[name]) }

// measureAll runs every case Runs times, interleaved, and derives the
// results.
func (b *bench) measureAll(ctx context.Context) ([]report.Result, error) {
	s := series{}
	type step struct {
		name string
		op   func() error
	}
	var steps []step
	for _, n := range b.opts.Sizes {
		for _, network := range []string{tcpName, unixName} {
			echo, err := b.rawOp(ctx, network, opEcho, n)
			if err != nil {
				return nil, err
			}
			push, err := b.rawOp(ctx, network, opPush, n)
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{key("rtt", network, n), echo})
			if n <= MaxMessage {
				steps = append(steps, step{key("srr", network, n), b.srrOp(ctx, network, n)})
			}
			steps = append(steps,
				step{key("push", network, n), push},
				step{key("movefrom", network, n), b.moveFromOp(ctx, network, n)},
			)
		}
		if n <= MaxMessage {
			steps = append(steps, step{key("srr", inprocName, n), b.srrOp(ctx, inprocName, n)})
		}
		steps = append(steps, step{key("movefrom", inprocName, n), b.moveFromOp(ctx, inprocName, n)})
	}
	for _, n := range PageSizes {
		steps = append(steps,
			step{key("page-rws", tcpName, n), b.pageOp(ctx, msgPageRWS, n)},
			step{key("page-moveto", tcpName, n), b.pageOp(ctx, msgPageMove, n)},
		)
	}
	for run := range b.opts.Runs {
		start := time.Now()
		for _, st := range steps {
			d, err := b.measure(ctx, st.op)
			if err != nil {
				return nil, fmt.Errorf("msgbench: %s: %w", st.name, err)
			}
			s.add(st.name, d)
		}
		fmt.Fprintf(b.opts.Log, "msgbench: run %d/%d in %v\n", run+1, b.opts.Runs, time.Since(start).Round(time.Millisecond))
	}
	return derive(s, b.opts.Sizes), nil
}

func key(what, tr string, n int) string { return what + "-" + tr + "-" + sizeName(n) }

// sizeName prints 32B, 4KiB, 1MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// errNoFit reports too few sizes for a line.
var errNoFit = errors.New("msgbench: fewer than two sizes to fit")

// Fit returns the least-squares line y = a + b·x.
func Fit(xs, ys []float64) (a, b float64, err error) {
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0, 0, errNoFit
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	k := float64(len(xs))
	den := k*sxx - sx*sx
	if den == 0 {
		return 0, 0, errNoFit
	}
	b = (k*sxy - sx*sy) / den
	a = (sy - b*sx) / k
	return a, b, nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
