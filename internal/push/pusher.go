// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/progress"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/msg"
)

// MaxMessage is the msg message limit of pushers and receivers: an
// [Offer] with [MaxPieceDigests] digests fits.
const MaxMessage = 1 << 20

// OriginConcurrency is how many pieces of one file a push lets its
// receivers fetch from the pusher at once, unless
// PusherConfig.Scheduler says otherwise: half the scheduler's default.
// A receiver's daemon fetches 8 pieces at once, so one receiver never ran
// more than 8 source fetches anyway; with 16 split over a few receivers
// the source fetches, each at a sixteenth of the pusher's link, held most
// of every receiver's download slots (at 2 receivers all 8), and the
// receivers could not pass pieces to each other while the pusher was
// still sending (docs/benchmarks.md, push, session 6).
const OriginConcurrency = 8

// PusherConfig configures [Push].
type PusherConfig struct {
	Files     []string // paths of the files to push
	Receivers []string // host:port of each receiver
	Token     string   // presented to the receivers; the scheduler requires it too

	// Listen is the scheduler's TCP address, host:port; "" means ":0".
	// The origin listens on the same host, on a free port. With an
	// unspecified host the address announced to each receiver is the
	// local address that routes to it.
	Listen string

	// OriginRate caps the origin's upload in bytes per second (0: no cap).
	OriginRate int64

	// PieceSize overrides the piece size (0: chosen from the file size).
	PieceSize int64

	// Scheduler configures the in-process scheduler; its Token is
	// replaced by Token, and a zero OriginConcurrency by
	// OriginConcurrency.
	Scheduler scheduler.Config

	// Progress, if a terminal, gets a bar per receiver.
	Progress io.Writer

	// Logger; nil discards.
	Logger *slog.Logger
}

// PushStats is what the pusher measured of itself.
type PushStats struct {
	Files  int         // files pushed
	Bytes  int64       // bytes in the files
	Pieces int         // pieces in the files
	Origin OriginStats // what the origin served
	Sends  int         // offers sent (each two msg Sends: the offer and its Await)
}

// schedulerConfig is the in-process scheduler's configuration.
func (c *PusherConfig) schedulerConfig() scheduler.Config {
	s := c.Scheduler
	s.Token = c.Token
	if s.OriginConcurrency == 0 {
		s.OriginConcurrency = OriginConcurrency
	}
	return s
}

// Push hashes the files, seeds them from an in-process scheduler and
// HTTP origin, offers every file to every receiver at once and returns
// one [Report] per (receiver, file) once all have answered or ctx ends.
// The error is for a push that could not start; failures of receivers
// are in the reports.
func Push(ctx context.Context, cfg PusherConfig) ([]Report, PushStats, error) {
	var st PushStats
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Files) == 0 || len(cfg.Receivers) == 0 {
		return nil, st, errors.New("push: no files or no receivers")
	}
	if cfg.Listen == "" {
		cfg.Listen = ":0"
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, st, fmt.Errorf("push: listen: %w", err)
	}
	seeds := make([]*Seed, 0, len(cfg.Files))
	for _, p := range cfg.Files {
		s, err := HashFile(p, cfg.PieceSize)
		if err != nil {
			return nil, st, err
		}
		seeds = append(seeds, s)
		st.Files++
		st.Bytes += s.Layout.Size
		st.Pieces += s.Layout.Pieces()
	}

	sched, err := scheduler.New(cfg.schedulerConfig(), log.With("component", "scheduler"))
	if err != nil {
		return nil, st, fmt.Errorf("push: %w", err)
	}
	defer func() { _ = sched.Close() }()
	node, err := msg.NewNode(msg.Config{MaxMessage: MaxMessage, Logger: log.With("component", "msg")})
	if err != nil {
		return nil, st, fmt.Errorf("push: %w", err)
	}
	defer func() { _ = node.Close() }()
	if err := node.Listen(ctx, "tcp://"+cfg.Listen); err != nil {
		return nil, st, fmt.Errorf("push: listen on %s: %w", cfg.Listen, err)
	}
	_, schedPort, err := net.SplitHostPort(strings.TrimPrefix(node.Addr(), "tcp://"))
	if err != nil {
		return nil, st, fmt.Errorf("push: %w", err)
	}
	origin, err := NewOrigin(net.JoinHostPort(host, "0"), cfg.OriginRate)
	if err != nil {
		return nil, st, err
	}
	defer func() { _ = origin.Close() }()
	paths := make([]string, len(seeds))
	for i, s := range seeds {
		paths[i] = origin.Add(s.Task, s.Path)
	}

	sctx, stop := context.WithCancel(ctx)
	var servers sync.WaitGroup
	for _, run := range []func(context.Context) error{
		sched.Run,
		func(ctx context.Context) error { return sched.Serve(ctx, node) },
		origin.Serve,
	} {
		servers.Go(func() {
			if err := run(sctx); err != nil && sctx.Err() == nil {
				log.Error("push: server stopped", "err", err)
			}
		})
	}
	defer servers.Wait()
	defer stop()

	// Every receiver joins each file's task: tell the scheduler before
	// the first does, so that it takes only its share of the origin.
	expect := newExpectations(sched, seeds, len(cfg.Receivers), log)
	if err := expect.start(ctx); err != nil {
		return nil, st, err
	}

	bars := progress.New(ctx, progressOut(cfg.Progress))
	reports := make([]Report, len(cfg.Receivers)*len(seeds))
	var senders sync.WaitGroup
	for ri, rcv := range cfg.Receivers {
		bar := bars.Add(rcv, st.Bytes)
		var done sync.Mutex
		var got int64
		// The route to rcv is the same for each of its files: look it up once.
		h, herr := announceHost(host, rcv)
		for fi, s := range seeds {
			st.Sends++
			senders.Go(func() {
				r := offerOne(ctx, node, rcv, h, herr, schedPort, origin.Port(), paths[fi], s, cfg.Token)
				reports[ri*len(seeds)+fi] = r
				if r.Err != nil {
					expect.lost(ctx, s.Task)
				}
				done.Lock()
				got += s.Layout.Size
				bar.Set(got)
				done.Unlock()
				log.Info("push: receiver answered", "receiver", rcv, "file", s.Name, "err", r.Err)
			})
		}
	}
	senders.Wait()
	bars.Wait()
	st.Origin = origin.Stats()
	return reports, st, nil
}

// offerOne sends one file's offer to one receiver, which reaches the
// pusher at host h (hostErr: h could not be found), and waits for its
// Result.
func offerOne(ctx context.Context, node *msg.Node, rcv, h string, hostErr error, schedPort string, originPort int, urlPath string, s *Seed, token string) Report {
	start := time.Now()
	if hostErr != nil {
		return ReportFrom(rcv, s.Name, nil, time.Since(start), hostErr)
	}
	o := &Offer{
		Task: s.Task, Name: s.Name, Layout: s.Layout, Digest: s.Digest, Pieces: s.Pieces, Token: token,
		Scheduler: net.JoinHostPort(h, schedPort),
		Source:    "http://" + net.JoinHostPort(h, strconv.Itoa(originPort)) + urlPath,
	}
	b, err := o.Append(nil)
	if err != nil {
		return ReportFrom(rcv, s.Name, nil, time.Since(start), err)
	}
	res, err := sendFor(ctx, node, rcv, b)
	if err != nil {
		return ReportFrom(rcv, s.Name, nil, time.Since(start), fmt.Errorf("send offer: %w", err))
	}
	if res.Code == CodeAccepted {
		// The receiver is fetching the file; its verdict is the reply to
		// a small Await, which msg may retransmit as often as it likes.
		a := &Await{Task: s.Task, Name: s.Name, Token: token}
		if b, err = a.Append(nil); err != nil {
			return ReportFrom(rcv, s.Name, nil, time.Since(start), err)
		}
		if res, err = sendFor(ctx, node, rcv, b); err != nil {
			return ReportFrom(rcv, s.Name, nil, time.Since(start), fmt.Errorf("await result: %w", err))
		}
	}
	return ReportFrom(rcv, s.Name, res, time.Since(start), nil)
}

// sendFor sends the encoded request b to receiver rcv and decodes its
// Result.
func sendFor(ctx context.Context, node *msg.Node, rcv string, b []byte) (*Result, error) {
	reply, err := sendRetryingDial(ctx, node, rcv, b)
	if err != nil {
		return nil, err
	}
	m, err := Decode(reply)
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	res, ok := m.(*Result)
	if !ok {
		return nil, fmt.Errorf("%w: reply is a %v", ErrBadOffer, m.Type())
	}
	return res, nil
}

// dialTries is how often a request is tried while its receiver cannot be
// connected to, the first wait dialBackoff, doubling.
const (
	dialTries   = 4
	dialBackoff = 250 * time.Millisecond
)

// sendRetryingDial sends the encoded request b (an offer or an await) to
// receiver rcv and returns the reply. A connection that cannot be made
// (refused, or not made within msg's dial timeout, which a loaded host can
// miss) is tried again a few times: nothing reached the receiver, so the
// request cannot run twice.
func sendRetryingDial(ctx context.Context, node *msg.Node, rcv string, b []byte) ([]byte, error) {
	wait := dialBackoff
	for i := 1; ; i++ {
		reply, err := node.Send(ctx, "tcp://"+rcv, b)
		var op *net.OpError
		if err == nil || i == dialTries || !errors.As(err, &op) || op.Op != "dial" {
			return reply, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		wait *= 2
	}
}

// announceHost is the host receiver rcv reaches the pusher at: host if it
// is specified, else the local address of the route to rcv.
func announceHost(host, rcv string) (string, error) {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host, nil
	}
	c, err := net.Dial("udp", rcv) // no packet is sent: this only picks a route
	if err != nil {
		return "", fmt.Errorf("route to %s: %w", rcv, err)
	}
	defer func() { _ = c.Close() }()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// progressOut is w, or io.Discard for nil.
func progressOut(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
