// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/units"
)

// Config describes one run of the swarm benchmark. The zero value runs the
// two baselines with 8 peers and a 64 MiB file, without the loopback
// baselines.
type Config struct {
	// Peers is N, the number of hosts that download; the origin is one
	// more host. Zero means 8.
	Peers int
	// Size is F, the file's size. Zero means 64 MiB.
	Size units.Size
	// OriginUp is the origin's upload rate. Zero means 100 Mbit/s.
	OriginUp units.Rate
	// PeerUp is every peer's upload rate. Zero means 100 Mbit/s.
	PeerUp units.Rate
	// PeerDown is every peer's download rate (and the origin's). Zero
	// means 200 Mbit/s.
	PeerDown units.Rate
	// MinTSOSegs is the lab's net.ipv4.tcp_min_tso_segs (see
	// [netlab.Config.MinTSOSegs]): at least that many segments per GSO
	// packet, so that the many hosts sharing this machine's CPUs wake per
	// 64 KiB rather than per 3 KiB at low rates. Zero means 44; negative
	// keeps the kernel's default.
	MinTSOSegs int
	// Systems are run in turn in the same lab. Nil means [BitTorrent]
	// and [HTTP].
	Systems []System
	// NoSwarm skips the swarm, leaving only the loopback baselines.
	NoSwarm bool
	// Loopback adds the single-transfer baselines on loopback.
	Loopback bool
	// LoopbackSize is the file nginx serves curl on loopback. Zero means
	// 1 GiB.
	LoopbackSize units.Size
	// LoopbackRuns is how often each loopback figure is measured; the
	// median is reported. Zero means 3.
	LoopbackRuns int
	// PollenBinary, if set, adds a pollen daemon-to-daemon transfer to
	// the loopback baselines (see [Config.Loopback]), run from this
	// executable.
	PollenBinary string
	// IperfTime is the length of one iperf3 run. Zero means 5s.
	IperfTime time.Duration
	// Timeout bounds each system's run. Zero means one minute plus twice
	// the longer of 5 times the lower bound and N·F/u_origin (the
	// client-server time).
	Timeout time.Duration
	// Dir is where the run's temporary directory is made. Empty means
	// os.TempDir().
	Dir string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	mbit := func(n int64) units.Rate { return units.Rate(n * 1e6 / 8) }
	if c.Peers == 0 {
		c.Peers = 8
	}
	if c.Size == 0 {
		c.Size = 64 << 20
	}
	if c.OriginUp == 0 {
		c.OriginUp = mbit(100)
	}
	if c.PeerUp == 0 {
		c.PeerUp = mbit(100)
	}
	if c.PeerDown == 0 {
		c.PeerDown = mbit(200)
	}
	if c.Systems == nil {
		c.Systems = []System{BitTorrent{}, HTTP{}}
	}
	c.MinTSOSegs = labTSOSegs(c.MinTSOSegs)
	if c.LoopbackSize == 0 {
		c.LoopbackSize = 1 << 30
	}
	if c.LoopbackRuns == 0 {
		c.LoopbackRuns = 3
	}
	if c.IperfTime == 0 {
		c.IperfTime = 5 * time.Second
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// labTSOSegs is the benchmarks' reading of a MinTSOSegs setting: zero
// means [netlab.MaxTSOSegs] (one 64 KiB GSO packet), negative the
// kernel's default (netlab's zero).
func labTSOSegs(n int) int {
	switch {
	case n == 0:
		return netlab.MaxTSOSegs
	case n < 0:
		return 0
	}
	return n
}

// Validate reports whether c, with defaults applied, describes a run.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Peers < 1 || c.Peers > netlab.MaxHosts-1:
		return fmt.Errorf("swarmbench: peers %d not in 1..%d", c.Peers, netlab.MaxHosts-1)
	case c.Size < 1 || c.LoopbackSize < 1:
		return errors.New("swarmbench: file size must be positive")
	case c.OriginUp < 0 || c.PeerUp < 0 || c.PeerDown < 0:
		return errors.New("swarmbench: negative rate")
	case c.LoopbackRuns < 1 || c.IperfTime < time.Second || c.Timeout < 0:
		return errors.New("swarmbench: loopback runs, iperf time or timeout out of range")
	case c.NoSwarm && !c.Loopback:
		return errors.New("swarmbench: nothing to run")
	}
	return nil
}

// links returns the lab's links: the origin's, then the peers'.
func (c Config) links() (netlab.Link, []netlab.Link) {
	peers := make([]netlab.Link, c.Peers)
	for i := range peers {
		peers[i] = netlab.Link{Up: c.PeerUp, Down: c.PeerDown}
	}
	return netlab.Link{Up: c.OriginUp, Down: c.PeerDown}, peers
}

// timeout returns how long one system may run.
func (c Config) timeout() time.Duration {
	if c.Timeout != 0 {
		return c.Timeout
	}
	origin, _ := c.links()
	serial := LowerBound(units.Size(c.Peers)*c.Size, origin.Up, nil)
	return 2*max(5*c.bound(), serial) + time.Minute
}

func (c Config) bound() time.Duration {
	origin, peers := c.links()
	return LowerBound(c.Size, origin.Up, peers)
}

// Run runs the benchmark cfg describes and adds its results to w (it does
// not flush w). It needs root and the programs of [DebianPackages]; without
// them it fails early with an error wrapping [netlab.ErrNotSupported] or
// [ErrMissingTools]. Everything it starts and creates is gone when it
// returns, also when ctx is cancelled.
func Run(ctx context.Context, cfg Config, w *report.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	var tools []string
	if !cfg.NoSwarm {
		for _, s := range cfg.Systems {
			if t, ok := s.(toolUser); ok {
				tools = append(tools, t.tools()...)
			}
		}
	}
	if cfg.Loopback {
		tools = append(tools, loopbackTools...)
	}
	if err := checkTools(tools); err != nil {
		return err
	}
	if err := netlab.Supported(ctx); err != nil {
		return err
	}
	dir, err := makeRunDir(cfg.Dir)
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if !cfg.NoSwarm {
		if err := runSwarm(ctx, cfg, dir, w); err != nil {
			return err
		}
	}
	if cfg.Loopback {
		if err := runLoopback(ctx, cfg, dir, w); err != nil {
			return fmt.Errorf("swarmbench: loopback: %w", err)
		}
	}
	return nil
}

// makeRunDir makes a run's directory in parent, after removing those of
// dead runs. The caller removes it.
func makeRunDir(parent string) (string, error) {
	removeStaleDirs(parent)
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("swarmbench-%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("swarmbench: %w", err)
	}
	// Files under dir are read by nginx and aria2c, which run as root
	// but in their own mount namespace; 0755 keeps that simple.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("swarmbench: %w", err)
	}
	return dir, nil
}

// makeOriginFile makes the file of a run, size bytes, in dir/origin.
func makeOriginFile(dir string, size int64) (file, error) {
	src := filepath.Join(dir, "origin")
	if err := os.Mkdir(src, 0o755); err != nil {
		return file{}, fmt.Errorf("swarmbench: %w", err)
	}
	return makeFile(src, "file.bin", size)
}

// removeStaleDirs removes the directories of runs in parent whose process
// has died (killed before its deferred cleanup could run).
func removeStaleDirs(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "swarmbench-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

func runSwarm(ctx context.Context, cfg Config, dir string, w *report.Writer) error {
	originLink, peerLinks := cfg.links()
	lab, err := netlab.New(ctx, netlab.Config{
		Hosts:      cfg.Peers + 1,
		Link:       peerLinks[0],
		HostLinks:  map[int]netlab.Link{0: originLink},
		MinTSOSegs: cfg.MinTSOSegs,
		Logger:     cfg.Logger,
	})
	if err != nil {
		return err
	}
	defer func() { _ = lab.Close() }()
	if err := pinNeighbors(ctx, lab); err != nil {
		return err
	}

	f, err := makeOriginFile(dir, int64(cfg.Size))
	if err != nil {
		return err
	}
	bound := cfg.bound()
	cfg.Logger.Info("swarmbench: swarm", "peers", cfg.Peers, "size", cfg.Size, "origin_up", cfg.OriginUp,
		"peer_up", cfg.PeerUp, "peer_down", cfg.PeerDown, "min_tso_segs", cfg.MinTSOSegs, "lower_bound", bound)
	c := fmt.Sprintf("n%d-%s", cfg.Peers, cfg.Size)
	for _, s := range cfg.Systems {
		out, err := runSystem(ctx, cfg, lab, s, f, filepath.Join(dir, s.Name()))
		if err != nil {
			return fmt.Errorf("swarmbench: %s: %w", s.Name(), err)
		}
		cfg.Logger.Info("swarmbench: done", "system", s.Name(), "all_done", out.AllDone,
			"ratio", out.AllDone.Seconds()/bound.Seconds(), "first_done", slices.Min(out.PerHost),
			"median_done", median(out.PerHost), "origin_bytes", out.OriginBytes, "cpu", out.CPU)
		for _, r := range []report.Result{
			{Metric: "all_done", Unit: "s", Value: out.AllDone.Seconds(), Better: report.Lower},
			{Metric: "origin_bytes", Unit: "B", Value: float64(out.OriginBytes), Better: report.Lower},
			{Metric: "cpu", Unit: "s", Value: out.CPU.Seconds(), Better: report.Lower},
		} {
			r.Bench, r.Case = "swarm", s.Name()+"-"+c
			switch r.Metric {
			case "all_done":
				r = r.WithBaseline("lower_bound", bound.Seconds())
			case "origin_bytes":
				r = r.WithBaseline("file", float64(f.size))
			}
			if err := w.Add(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// runSystem runs s in lab with its own directory, measures the origin's
// traffic around it and verifies every copy. The directory is removed
// afterwards.
func runSystem(ctx context.Context, cfg Config, lab *netlab.Lab, s System, f file, dir string) (Outcome, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return Outcome{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	origin := lab.Host(0)
	before, err := origin.Counters(ctx)
	if err != nil {
		return Outcome{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	debug := cfg.Logger.Enabled(ctx, slog.LevelDebug)
	var samples linkSamples
	stop := func() {}
	sampled := time.Now()
	if debug {
		stop = sampleLinks(sctx, lab, &samples)
	}
	out, err := s.Run(sctx, lab, Task{File: f.path, Size: f.size, SHA256: f.sum, Dir: dir})
	stop()
	if err != nil {
		return out, err
	}
	if debug {
		cfg.Logger.Debug("swarmbench: per-host done", "system", s.Name(), "times", out.PerHost)
		// Drop the samples before the downloads started (set-up).
		skip := int(out.Started.Sub(sampled) / (250 * time.Millisecond))
		cfg.Logger.Debug("swarmbench: origin tx MB/s every 250ms from the start", "system", s.Name(), "series", series(samples.origin, skip))
		cfg.Logger.Debug("swarmbench: peers' summed tx MB/s every 250ms from the start", "system", s.Name(),
			"cap", float64(cfg.PeerUp)*float64(cfg.Peers)/1e6, "series", series(samples.peers, skip))
	}
	after, err := origin.Counters(ctx)
	if err != nil {
		return out, err
	}
	out.OriginBytes = after.Sub(before).TxBytes
	if len(out.Copies) != cfg.Peers || len(out.PerHost) != cfg.Peers {
		return out, fmt.Errorf("%d copies and %d times for %d peers", len(out.Copies), len(out.PerHost), cfg.Peers)
	}
	return out, verify(ctx, out.Copies, f)
}

// linkSamples are the lab's send rates in MB/s (10^6), one per traceInterval: the
// origin's and the sum of the peers'. They trace how well a system keeps
// the origin's link and the peers' uploads busy (debug logging only).
type linkSamples struct {
	origin, peers []float64
}

// sampleLinks appends to *s every traceInterval until the returned stop is
// called. *s must not be read before stop returns.
func sampleLinks(ctx context.Context, lab *netlab.Lab, s *linkSamples) (stop func()) {
	return sampleCounters(ctx, lab, func(last, cs []netlab.Counters) {
		var peers int64
		for i := 1; i < len(cs); i++ {
			peers += cs[i].TxBytes - last[i].TxBytes
		}
		per := traceInterval.Seconds() * 1e6
		s.origin = append(s.origin, float64(cs[0].TxBytes-last[0].TxBytes)/per)
		s.peers = append(s.peers, float64(peers)/per)
	})
}

// sampleCounters reads the lab's link counters every traceInterval and
// hands each reading with the one before it to sample, in one goroutine,
// until the returned stop is called (or a reading fails). What sample
// writes must not be read before stop returns.
func sampleCounters(ctx context.Context, lab *netlab.Lab, sample func(last, cs []netlab.Counters)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		last, err := lab.AllCounters(ctx)
		if err != nil {
			return
		}
		t := time.NewTicker(traceInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			cs, err := lab.AllCounters(ctx)
			if err != nil {
				return
			}
			sample(last, cs)
			last = cs
		}
	}()
	return func() { cancel(); <-done }
}

// series formats vs, from index skip on, one decimal each.
func series(vs []float64, skip int) string {
	var b strings.Builder
	for _, v := range vs[min(skip, len(vs)):] {
		fmt.Fprintf(&b, "%.1f ", v)
	}
	return b.String()
}

// median returns the median of ds (the upper one of an even count),
// leaving ds as it is; 0 for none.
func median(ds []time.Duration) time.Duration { return pct(slices.Clone(ds), 50) }

// file is a generated source file.
type file struct {
	path string
	size int64
	sum  [32]byte
}

// makeFile writes size pseudo-random bytes to dir/name.
func makeFile(dir, name string, size int64) (file, error) {
	f := file{path: filepath.Join(dir, name), size: size}
	out, err := os.Create(f.path)
	if err != nil {
		return f, fmt.Errorf("swarmbench: %w", err)
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 1<<20)
	rng := rand.NewChaCha8([32]byte{'p', 'o', 'l', 'l', 'e', 'n'})
	if _, err := io.CopyN(bw, rng, size); err != nil {
		_ = out.Close()
		return f, fmt.Errorf("swarmbench: write %s: %w", f.path, err)
	}
	if err := bw.Flush(); err != nil {
		_ = out.Close()
		return f, fmt.Errorf("swarmbench: write %s: %w", f.path, err)
	}
	if err := out.Close(); err != nil {
		return f, fmt.Errorf("swarmbench: write %s: %w", f.path, err)
	}
	copy(f.sum[:], h.Sum(nil))
	return f, nil
}

// verify checks that every copy has f's size and digest, two at a time.
func verify(ctx context.Context, copies []string, f file) error {
	errs := make([]error, len(copies))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, path := range copies {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			errs[i] = verifyCopy(path, f)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func verifyCopy(path string, f file) error {
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer func() { _ = in.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	if n != f.size || [32]byte(h.Sum(nil)) != f.sum {
		return fmt.Errorf("copy %s: %d bytes, digest %x; want %d bytes, digest %x", path, n, h.Sum(nil), f.size, f.sum)
	}
	return nil
}
