// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

const gib = 1 << 30

// BenchConfig says what [Bench] measures. The zero value means defaults.
type BenchConfig struct {
	// Size is the bytes moved per transfer; zero means 1 GiB.
	Size int64
	// Runs is how often each case runs; figures are medians. Zero means 3.
	Runs int
	// Dir holds the source file and the download sink file; empty means
	// os.TempDir(). It needs twice Size free.
	Dir string
	// Progress, if set, is called before each case with a short line.
	Progress func(line string)
}

func (c BenchConfig) withDefaults() BenchConfig {
	if c.Size == 0 {
		c.Size = gib
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	return c
}

// Validate reports a config Bench cannot run.
func (c BenchConfig) Validate() error {
	if c.Size < 0 || c.Runs < 0 {
		return fmt.Errorf("datapath: bench: negative size or runs: %w", ErrBadConfig)
	}
	return nil
}

// ErrBadConfig is returned for a [BenchConfig] that fails Validate.
var ErrBadConfig = errors.New("datapath: invalid bench config")

// Measurement is one case of [Bench]: medians over the runs.
type Measurement struct {
	// Case is the bench case, "download-sendfile", "receive-splice-file"
	// or "stream-gso".
	Case string
	// Side is the side whose CPU is measured: "server", "client" or
	// "sender".
	Side string
	// Legacy marks streaming paths the 2005 assessment had.
	Legacy bool
	// Header is false for the bare-payload streaming baseline.
	Header bool
	// Seconds is the wall time of one transfer of the configured size
	// (for streaming: the sender's time, the offered rate).
	Seconds float64
	// Bytes is the payload per transfer.
	Bytes int64
	// User and Sys are the measured side's CPU seconds per GiB.
	User, Sys float64
	// Peer is the other side's CPU seconds per GiB (user + system).
	Peer float64
	// Syscalls is the measured side's data-path system calls per GiB.
	Syscalls float64
	// Copies is the analytic CPU copies per payload byte of the side.
	Copies float64
	// Delivered is the share of datagrams the receiver got (streaming
	// only; loopback UDP drops when the receiver falls behind).
	Delivered float64
}

// CPU returns the measured side's CPU seconds per GiB.
func (m Measurement) CPU() float64 { return m.User + m.Sys }

// Throughput returns bytes per second.
func (m Measurement) Throughput() float64 {
	if m.Seconds == 0 {
		return 0
	}
	return float64(m.Bytes) / m.Seconds
}

// BenchReport is what [Bench] measured, with the assessment's claims
// re-measured as ratios within the run.
type BenchReport struct {
	Size int64
	Runs int
	// Download holds the download-* rows (server paths, client discards)
	// and the receive-* rows (client paths, server sends with sendfile).
	Download []Measurement
	// Stream holds the stream-* rows.
	Stream []Measurement
	// HeaderTax is CPU(sendfile-header)/CPU(sendfile) − 1: what a per-packet
	// header costs the sender (the assessment: +29%).
	HeaderTax float64
	// BestLegacy and BestModern name the cheapest streaming paths with a
	// header, of those the assessment had and of the batching ones since.
	BestLegacy, BestModern string
	// ModernVsLegacy is CPU(BestModern)/CPU(BestLegacy) − 1 (the
	// assessment's enhanced calls: −25% to −27%).
	ModernVsLegacy float64
}

// Find returns the measurement of the named case.
func (r *BenchReport) Find(name string) (Measurement, bool) {
	for _, m := range slices.Concat(r.Download, r.Stream) {
		if m.Case == name {
			return m, true
		}
	}
	return Measurement{}, false
}

// sample is one run of one case.
type sample struct {
	seconds, user, sys, peer float64
	counts                   Counts
	delivered                float64
}

// benchCase is one row of the bench.
type benchCase struct {
	m   Measurement
	run func(ctx context.Context, env *benchEnv) (sample, error)
}

type benchEnv struct {
	size int64
	src  *os.File
	sink *os.File
}

// Bench runs every path over loopback, cfg.Runs times each with the runs
// interleaved so drift hits all cases alike, and returns the medians. It
// writes a cfg.Size source file (then read once to warm the page cache) and
// a sink file in cfg.Dir and removes both.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dir, err := os.MkdirTemp(cfg.Dir, "pollen-datapath-")
	if err != nil {
		return nil, fmt.Errorf("datapath: bench dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cfg.Progress(fmt.Sprintf("writing %d-byte source file", cfg.Size))
	env := &benchEnv{size: cfg.Size}
	if env.src, err = writeSource(filepath.Join(dir, "source"), cfg.Size); err != nil {
		return nil, err
	}
	defer func() { _ = env.src.Close() }()
	if env.sink, err = os.Create(filepath.Join(dir, "sink")); err != nil {
		return nil, fmt.Errorf("datapath: bench sink: %w", err)
	}
	defer func() { _ = env.sink.Close() }()

	cases := benchCases()
	samples := make([][]sample, len(cases))
	for run := range cfg.Runs {
		for i, bc := range cases {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cfg.Progress(fmt.Sprintf("run %d/%d %s", run+1, cfg.Runs, bc.m.Case))
			s, err := bc.run(ctx, env)
			if errors.Is(err, ErrUnsupported) {
				continue // not on this platform: the row is left out
			}
			if err != nil {
				return nil, fmt.Errorf("datapath: bench %s: %w", bc.m.Case, err)
			}
			samples[i] = append(samples[i], s)
		}
	}
	rep := &BenchReport{Size: cfg.Size, Runs: cfg.Runs}
	for i, bc := range cases {
		if len(samples[i]) == 0 {
			continue
		}
		m := summarize(bc.m, cfg.Size, samples[i])
		if m.Side == "sender" {
			rep.Stream = append(rep.Stream, m)
		} else {
			rep.Download = append(rep.Download, m)
		}
	}
	rep.claims()
	return rep, nil
}

func (r *BenchReport) claims() {
	bare, _ := r.Find("stream-sendfile")
	withHdr, _ := r.Find("stream-sendfile-header")
	r.HeaderTax = ratio(withHdr.CPU(), bare.CPU()) - 1
	var legacy, modern Measurement
	for _, m := range r.Stream {
		switch {
		case !m.Header:
		case m.Legacy && (legacy.Case == "" || m.CPU() < legacy.CPU()):
			legacy = m
		case !m.Legacy && (modern.Case == "" || m.CPU() < modern.CPU()):
			modern = m
		}
	}
	r.BestLegacy, r.BestModern = legacy.Case, modern.Case
	r.ModernVsLegacy = ratio(modern.CPU(), legacy.CPU()) - 1
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func summarize(m Measurement, size int64, ss []sample) Measurement {
	per := float64(gib) / float64(size)
	med := func(f func(sample) float64) float64 {
		xs := make([]float64, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	m.Bytes = size
	m.Seconds = med(func(s sample) float64 { return s.seconds })
	m.User = med(func(s sample) float64 { return s.user }) * per
	m.Sys = med(func(s sample) float64 { return s.sys }) * per
	m.Peer = med(func(s sample) float64 { return s.peer }) * per
	m.Syscalls = med(func(s sample) float64 { return float64(s.counts.Syscalls) }) * per
	m.Delivered = med(func(s sample) float64 { return s.delivered })
	return m
}

func benchCases() []benchCase {
	var cases []benchCase
	discard := Downloads()[0]
	var sendfile Upload
	for _, up := range Uploads() {
		if up.Name == "sendfile" {
			sendfile = up
		}
		cases = append(cases, benchCase{
			m:   Measurement{Case: "download-" + up.Name, Side: "server", Copies: up.Copies},
			run: downloadRun(up, discard, true),
		})
	}
	for _, down := range Downloads() {
		cases = append(cases, benchCase{
			m:   Measurement{Case: "receive-" + down.Name, Side: "client", Copies: down.Copies},
			run: downloadRun(sendfile, down, false),
		})
	}
	for _, st := range Streams() {
		cases = append(cases, benchCase{
			m:   Measurement{Case: "stream-" + st.Name, Side: "sender", Legacy: st.Legacy, Header: st.Header, Copies: st.Copies},
			run: streamRun(st),
		})
	}
	return cases
}

// onThread runs f locked to a fresh OS thread and returns its CPU use.
func onThread(f func() error) (user, sys float64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u0, s0 := threadCPU()
	err = f()
	u1, s1 := threadCPU()
	return u1 - u0, s1 - s0, err
}

// downloadRun moves the source over loopback TCP from up to down;
// measureServer picks the side whose counts and CPU the sample holds.
func downloadRun(up Upload, down Download, measureServer bool) func(context.Context, *benchEnv) (sample, error) {
	return func(ctx context.Context, env *benchEnv) (sample, error) {
		if err := env.sink.Truncate(0); err != nil {
			return sample{}, fmt.Errorf("truncate sink: %w", err)
		}
		server, client, err := tcpPair()
		if err != nil {
			return sample{}, err
		}
		closeBoth := func() { _, _ = server.Close(), client.Close() }
		defer closeBoth()
		stop := context.AfterFunc(ctx, closeBoth)
		defer stop()

		var wg sync.WaitGroup
		var sc, cc Counts
		var su, ss, cu, cs float64
		var serr, cerr error
		start := time.Now()
		wg.Go(func() {
			su, ss, serr = onThread(func() error {
				_, err := up.Send(server, env.src, 0, env.size, &sc)
				return err
			})
			_ = server.Close()
		})
		wg.Go(func() {
			cu, cs, cerr = onThread(func() error {
				_, err := down.Receive(env.sink, 0, client, env.size, &cc)
				return err
			})
			_ = client.Close()
		})
		wg.Wait()
		s := sample{seconds: time.Since(start).Seconds(), delivered: 1}
		if err := errors.Join(serr, cerr); err != nil {
			return s, err
		}
		if sc.Bytes != env.size || cc.Bytes != env.size {
			return s, fmt.Errorf("moved %d/%d of %d bytes: %w", sc.Bytes, cc.Bytes, env.size, errShort)
		}
		if measureServer {
			s.user, s.sys, s.peer, s.counts = su, ss, cu+cs, sc
		} else {
			s.user, s.sys, s.peer, s.counts = cu, cs, su+ss, cc
		}
		return s, nil
	}
}

var errShort = errors.New("datapath: short transfer")

// streamRun sends the source as datagrams over loopback UDP to a receiver
// that drains with recvmmsg.
func streamRun(st Stream) func(context.Context, *benchEnv) (sample, error) {
	return func(ctx context.Context, env *benchEnv) (sample, error) {
		recv, send, err := udpPair()
		if err != nil {
			return sample{}, err
		}
		closeBoth := func() { _, _ = recv.Close(), send.Close() }
		defer closeBoth()
		stop := context.AfterFunc(ctx, closeBoth)
		defer stop()

		want := int64(packets(int(env.size)))
		var wg sync.WaitGroup
		var sc, rc Counts
		var ru, rs float64
		var rerr error
		wg.Go(func() {
			ru, rs, rerr = onThread(func() error {
				return ReceiveDatagrams(recv, want, func([]byte) error { return nil }, &rc)
			})
		})
		start := time.Now()
		su, ss, serr := onThread(func() error {
			_, err := st.Send(send, env.src, 0, env.size, Header{Stream: 1, Flags: FlagEnd}, &sc)
			return err
		})
		secs := time.Since(start).Seconds()
		// Whatever has not arrived shortly after the sender finished was
		// dropped by loopback.
		_ = recv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		wg.Wait()
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			rerr = nil
		}
		s := sample{seconds: secs, user: su, sys: ss, peer: ru + rs, counts: sc, delivered: float64(rc.Packets) / float64(want)}
		if err := errors.Join(serr, rerr); err != nil {
			return s, err
		}
		if sc.Bytes != env.size {
			return s, fmt.Errorf("sent %d of %d bytes: %w", sc.Bytes, env.size, errShort)
		}
		return s, nil
	}
}

// tcpPair returns the two ends of a fresh loopback TCP connection.
func tcpPair() (server, client *net.TCPConn, err error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	defer func() { _ = ln.Close() }()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("accept: %w", err)
	}
	return server, client, nil
}

// udpPair returns a receiver with a large receive buffer and a sender
// connected to it, on loopback.
func udpPair() (recv, send *net.UDPConn, err error) {
	recv, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, nil, fmt.Errorf("listen udp: %w", err)
	}
	if rc, err := recv.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { growReceiveBuffer(fd, 64<<20) })
	}
	send, err = net.DialUDP("udp", nil, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		_ = recv.Close()
		return nil, nil, fmt.Errorf("dial udp: %w", err)
	}
	return recv, send, nil
}

// writeSource writes size bytes of pseudo-random data to path, flushes
// them to disk so writeback does not run during the bench, and reads the
// file once so it is in the page cache.
func writeSource(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datapath: bench source: %w", err)
	}
	block := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{'p', 'o', 'l', 'l', 'e', 'n'})
	_, _ = r.Read(block)
	for off := int64(0); off < size; off += int64(len(block)) {
		binary.BigEndian.PutUint64(block, uint64(off))
		if _, err := f.Write(block[:min(int64(len(block)), size-off)]); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("datapath: bench source: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("datapath: bench source: %w", err)
	}
	for off := int64(0); off < size; off += int64(len(block)) {
		if _, err := f.ReadAt(block, off); err != nil && off+int64(len(block)) < size {
			_ = f.Close()
			return nil, fmt.Errorf("datapath: warm page cache: %w", err)
		}
	}
	return f, nil
}
