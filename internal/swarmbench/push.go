// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/units"
)

// This file is the push benchmark (`pollen bench push`, SPEC S3): one
// pusher host sends one file to N receiver hosts with `pollen push` /
// `pollen receive`, in the lab the swarm benchmark uses, for each N in
// turn. It measures the time until every receiver has placed a verified
// copy, the bytes the pusher's link sent, and the system calls the pusher
// made, counted by perf (tracepoints, no ptrace) or, without perf, strace.

// Ports of the push benchmark inside the lab.
const (
	receivePort = 7602
	pushPort    = 7600
)

// pushToken is the shared secret of the benchmark's pushes; the lab is
// closed to the outside, so it need not be secret.
const pushToken = "bench-push"

// PushConfig describes one run of the push benchmark. The zero value but
// Binary pushes a 64 MiB file to 1, 4 and 16 receivers over 100 Mbit/s
// links.
type PushConfig struct {
	// Binary is the pollen executable run in the hosts. Required.
	Binary string
	// Receivers lists the numbers of receivers, one round each, in order.
	// Nil means 1, 4 and 16.
	Receivers []int
	// Size is the file's size. Zero means 64 MiB.
	Size units.Size
	// Rate shapes every host's link, up and down, the pusher's included.
	// Zero means 100 Mbit/s.
	Rate units.Rate
	// PieceSize, if not zero, overrides the piece size push chooses.
	PieceSize units.Size
	// Timeout bounds each round. Zero means one minute plus 5 times the
	// time the pusher's link needs to send N copies.
	Timeout time.Duration
	// MinTSOSegs is the lab's net.ipv4.tcp_min_tso_segs, as in
	// [Config.MinTSOSegs]: zero means 44 (one 64 KiB GSO packet, the
	// swarm benchmark's lab), negative keeps the kernel's default (2).
	MinTSOSegs int
	// QueueLatency is the longest a packet may wait in a link's tbf queue
	// ([netlab.Config.Latency]). Zero means netlab's default, 50ms.
	QueueLatency time.Duration
	// Dir is where the run's temporary directory is made. Empty means
	// os.TempDir().
	Dir string
	// TraceDir, if not empty, keeps a trace of every round in
	// TraceDir/n<N>/: the pusher's and the receivers' logs at debug level
	// (the scheduler's assignments and reports, each receiver's per-piece
	// timeline) and links.tsv, every host's sent bytes
	// per 250 ms. Empty runs every process at warn level.
	TraceDir string
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

func (c PushConfig) withDefaults() PushConfig {
	if c.Receivers == nil {
		c.Receivers = []int{1, 4, 16}
	}
	if c.Size == 0 {
		c.Size = 64 << 20
	}
	if c.Rate == 0 {
		c.Rate = units.Rate(100e6 / 8)
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.MinTSOSegs = labTSOSegs(c.MinTSOSegs)
	return c
}

// Validate reports whether c, with defaults applied, describes a run.
func (c PushConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Binary == "":
		return errors.New("swarmbench: push: no pollen binary")
	case len(c.Receivers) == 0:
		return errors.New("swarmbench: push: no receiver counts")
	case c.Size < 1:
		return errors.New("swarmbench: push: file size must be positive")
	case c.Rate < 0 || c.PieceSize < 0 || c.Timeout < 0:
		return errors.New("swarmbench: push: negative rate, piece size or timeout")
	case c.MinTSOSegs > netlab.MaxTSOSegs:
		return fmt.Errorf("swarmbench: push: min TSO segments %d over %d", c.MinTSOSegs, netlab.MaxTSOSegs)
	case c.QueueLatency < 0:
		return fmt.Errorf("swarmbench: push: negative queue latency %v", c.QueueLatency)
	}
	for _, n := range c.Receivers {
		if n < 1 || n > netlab.MaxHosts-1 {
			return fmt.Errorf("swarmbench: push: %d receivers not in 1..%d", n, netlab.MaxHosts-1)
		}
	}
	return nil
}

// timeout returns how long the round with n receivers may run.
func (c PushConfig) timeout(n int) time.Duration {
	if c.Timeout != 0 {
		return c.Timeout
	}
	return 5*LowerBound(units.Size(n)*c.Size, c.Rate, nil) + time.Minute
}

// links returns the links of n receivers.
func (c PushConfig) links(n int) []netlab.Link {
	l := make([]netlab.Link, n)
	for i := range l {
		l[i] = netlab.Link{Up: c.Rate, Down: c.Rate}
	}
	return l
}

// PushOutcome is what one round of the push benchmark measured.
type PushOutcome struct {
	Receivers int
	// AllDone is the pusher's wall time: from starting `pollen push` (which
	// hashes the file first) until it exited, every receiver having
	// answered with a placed and verified copy.
	AllDone time.Duration
	// LinkBytes is what the pusher's link sent, headers and the
	// scheduler's traffic included.
	LinkBytes int64
	// Served, Requests and Sends are the pusher's origin counters from
	// its summary: body bytes, HTTP requests, sendfile hand-offs.
	Served, Requests, Sends int64
	// Pieces is the number of pieces of the file.
	Pieces int64
	// Syscalls counts the pusher's system calls by name ("total" is all
	// of them), as the counter (perf or strace) reported them.
	Syscalls map[string]int64
	// Counter names the tool that counted them.
	Counter string
	// CPU is the pusher's user+system CPU time.
	CPU time.Duration
	// ReceiversCPU is the receivers' CPU time until the pusher exited:
	// beside AllDone × cores it tells a CPU-bound round.
	ReceiversCPU time.Duration
}

// RunPush runs the push benchmark cfg describes and adds its results to w
// (it does not flush w) as bench "push". It needs root and perf or strace;
// without them it fails early with an error wrapping
// [netlab.ErrNotSupported] or [ErrMissingTools]. Everything it starts and
// creates is gone when it returns, also when ctx is cancelled.
func RunPush(ctx context.Context, cfg PushConfig, w *report.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	counter, err := syscallCounter()
	if err != nil {
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
	lab, err := netlab.New(ctx, netlab.Config{
		Hosts:      slices.Max(cfg.Receivers) + 1,
		Link:       netlab.Link{Up: cfg.Rate, Down: cfg.Rate},
		MinTSOSegs: cfg.MinTSOSegs,
		Latency:    cfg.QueueLatency,
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
	var first PushOutcome // the first round, which the others are compared with
	for round, n := range cfg.Receivers {
		fulls := neighbourTableFulls()
		rctx, cancel := context.WithTimeout(ctx, cfg.timeout(n))
		out, err := runPushRound(rctx, cfg, counter, lab, n, f, filepath.Join(dir, fmt.Sprintf("round%d-n%d", round, n)))
		cancel()
		overflowed := neighbourTableFulls() > fulls
		if err != nil {
			if overflowed {
				err = fmt.Errorf("%w: %w", ErrNeighbourTableFull, err)
			}
			return fmt.Errorf("swarmbench: push to %d: %w", n, err)
		}
		if overflowed {
			cfg.Logger.Warn("swarmbench: the neighbour table overflowed during the round: its time may include stalls",
				"receivers", n, "err", ErrNeighbourTableFull)
		}
		if first.Receivers == 0 {
			first = out
		}
		bound := LowerBound(cfg.Size, cfg.Rate, cfg.links(n))
		cfg.Logger.Info("swarmbench: push done", "receivers", n, "all_done", out.AllDone, "bound", bound,
			"link_bytes", out.LinkBytes, "served", out.Served, "requests", out.Requests,
			"sendfile_handoffs", out.Sends, "pieces", out.Pieces, "cpu", out.CPU, "receivers_cpu", out.ReceiversCPU,
			"counter", out.Counter, "syscalls", fmt.Sprint(out.Syscalls))
		if err := addPushResults(w, cfg, out, f.size, bound, first); err != nil {
			return err
		}
	}
	return nil
}

// addPushResults adds one round's results to w.
func addPushResults(w *report.Writer, cfg PushConfig, out PushOutcome, size int64, bound time.Duration, first PushOutcome) error {
	total := float64(out.Syscalls["total"])
	pieces := float64(max(out.Pieces, 1))
	rs := []report.Result{
		{Metric: "all_done", Unit: "s", Value: out.AllDone.Seconds(), Better: report.Lower},
		// t(N)/t(first N), from the same run.
		{Metric: fmt.Sprintf("time_vs_n%d", first.Receivers), Unit: "x", Value: out.AllDone.Seconds() / first.AllDone.Seconds(), Better: report.Lower},
		{Metric: "link_bytes", Unit: "B", Value: float64(out.LinkBytes), Better: report.Lower},
		{Metric: "served_bytes", Unit: "B", Value: float64(out.Served), Better: report.Lower},
		{Metric: "origin_requests", Unit: "1", Value: float64(out.Requests), Better: report.Lower},
		{Metric: "syscalls", Unit: "1", Value: total, Better: report.Lower},
		{Metric: "pieces", Unit: "1", Value: pieces, Better: report.Lower},
		{Metric: "syscalls_per_piece", Unit: "1", Value: total / pieces, Better: report.Lower},
		{Metric: "sendfile_calls", Unit: "1", Value: float64(out.Syscalls["sendfile"]), Better: report.Lower},
		{Metric: "pusher_cpu", Unit: "s", Value: out.CPU.Seconds(), Better: report.Lower},
		{Metric: "receivers_cpu", Unit: "s", Value: out.ReceiversCPU.Seconds(), Better: report.Lower},
	}
	for _, r := range rs {
		r.Bench, r.Case = "push", fmt.Sprintf("n%d-%s", out.Receivers, cfg.Size)
		switch r.Metric {
		case "all_done":
			r = r.WithBaseline("lower_bound", bound.Seconds())
		case "link_bytes", "served_bytes":
			r = r.WithBaseline("file", float64(size))
		}
		if err := w.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// runPushRound starts n receivers on hosts 1..n, pushes f to them from
// host 0 under the syscall counter, verifies every copy and stops the
// receivers.
func runPushRound(ctx context.Context, cfg PushConfig, counter string, lab *netlab.Lab, n int, f file, dir string) (PushOutcome, error) {
	out := PushOutcome{Receivers: n, Counter: counter}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return out, err
	}
	level := "warn"
	if cfg.TraceDir != "" {
		level = "debug"
		// Deferred first, so that it runs last: after the processes
		// stopped and their logs are complete.
		defer keepTrace(cfg, n, dir)
	}
	var procs []*netlab.Proc
	defer func() { netlab.StopAll(procs...) }()
	to := make([]string, n)
	copies := make([]string, n)
	for i := range n {
		h := lab.Host(i + 1)
		hdir := filepath.Join(dir, "h"+strconv.Itoa(h.Index))
		if err := os.MkdirAll(filepath.Join(hdir, "out"), 0o755); err != nil {
			return out, err
		}
		to[i] = net.JoinHostPort(h.Addr.String(), strconv.Itoa(receivePort))
		copies[i] = filepath.Join(hdir, "out", filepath.Base(f.path))
		logPath := filepath.Join(hdir, "receive.log")
		// The linger outlasts the round: a receiver keeps serving the
		// others until the round stops it.
		p, err := startLogged(ctx, h, logPath, cfg.Binary, "receive", "--listen", to[i],
			"--dir", filepath.Join(hdir, "out"), "--data", filepath.Join(hdir, "data"),
			"--token", pushToken, "--linger", "1h", "--log-level", level)
		if err != nil {
			return out, err
		}
		procs = append(procs, p)
		// Dialled from the pusher's host: the path the offer takes.
		if err := waitReady(ctx, lab.Host(0), p, to[i], logPath); err != nil {
			return out, fmt.Errorf("receiver on host %d: %w", h.Index, err)
		}
	}
	origin := lab.Host(0)
	before, err := origin.Counters(ctx)
	if err != nil {
		return out, err
	}
	args := []string{
		"push", f.path, "--to", strings.Join(to, ","), "--token", pushToken,
		"--listen", net.JoinHostPort(origin.Addr.String(), strconv.Itoa(pushPort)), "--log-level", level,
	}
	if cfg.PieceSize > 0 {
		args = append(args, "--piece-size", strconv.FormatInt(int64(cfg.PieceSize), 10))
	}
	countPath := filepath.Join(dir, "syscalls.txt")
	name, cargs := counted(counter, countPath, cfg.Binary, args)
	pushOut := filepath.Join(dir, "push.out")
	pusher, err := startLogged(ctx, origin, pushOut, name, cargs...)
	if err != nil {
		return out, err
	}
	procs = append(procs, pusher)
	var links [][]int64
	if cfg.TraceDir != "" {
		stop := sampleHosts(ctx, lab, n+1, &links)
		defer func() {
			stop()
			if err := writeLinks(filepath.Join(dir, "links.tsv"), links); err != nil {
				cfg.Logger.Warn("swarmbench: push trace", "err", err)
			}
		}()
	}
	if err := pusher.Wait(); err != nil {
		return out, fmt.Errorf("pollen push: %w (%s)", err, tailFile(pushOut))
	}
	out.AllDone = pusher.Elapsed()
	if out.CPU, err = pusher.CPU(); err != nil {
		return out, err
	}
	if out.ReceiversCPU, err = cpuOf(procs[:n]); err != nil {
		return out, err
	}
	after, err := origin.Counters(ctx)
	if err != nil {
		return out, err
	}
	out.LinkBytes = after.Sub(before).TxBytes
	summary, err := os.ReadFile(pushOut)
	if err != nil {
		return out, err
	}
	if err := parsePushSummary(summary, &out); err != nil {
		return out, err
	}
	counts, err := os.ReadFile(countPath)
	if err != nil {
		return out, fmt.Errorf("syscall counts: %w", err)
	}
	if out.Syscalls, err = parseCounts(counter, counts); err != nil {
		return out, err
	}
	return out, verify(ctx, copies, f)
}

// syscallCounter returns the tool that counts the pusher's system calls:
// perf, or strace where perf is missing.
func syscallCounter() (string, error) {
	for _, t := range []string{"perf", "strace"} {
		if _, err := exec.LookPath(t); err == nil {
			return t, nil
		}
	}
	return "", &MissingToolsError{Tools: []string{"perf or strace"}, Packages: []string{"strace"}}
}

// perfEvents are the tracepoints perf counts: every system call entry,
// then the ones the data path is made of.
var perfEvents = []string{
	"raw_syscalls:sys_enter",
	"syscalls:sys_enter_sendfile64",
	"syscalls:sys_enter_read",
	"syscalls:sys_enter_write",
	"syscalls:sys_enter_writev",
	"syscalls:sys_enter_epoll_pwait",
	"syscalls:sys_enter_futex",
	"syscalls:sys_enter_nanosleep",
}

// counted returns the command line that runs bin with args under counter,
// which writes its counts to path.
func counted(counter, path, bin string, args []string) (string, []string) {
	if counter == "perf" {
		return "perf", append([]string{"stat", "-x,", "-o", path, "-e", strings.Join(perfEvents, ","), "--", bin}, args...)
	}
	return "strace", append([]string{"-f", "-c", "-o", path, "--", bin}, args...)
}

// parseCounts reads counter's output into counts by system call name,
// "total" for all of them; perf's sendfile64 is "sendfile" as in strace.
func parseCounts(counter string, b []byte) (map[string]int64, error) {
	counts := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if counter == "perf" {
			// value,unit,event,run time,percentage,...
			f := strings.Split(line, ",")
			if len(f) < 3 || strings.HasPrefix(line, "#") {
				continue
			}
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("perf: %q: not counted", line)
			}
			name := strings.TrimPrefix(strings.TrimPrefix(f[2], "syscalls:sys_enter_"), "raw_syscalls:")
			switch name {
			case "sys_enter":
				name = "total"
			case "sendfile64":
				name = "sendfile"
			}
			counts[name] = v
			continue
		}
		// % time, seconds, usecs/call, calls, [errors,] syscall
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		v, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			continue // the header and the rule
		}
		counts[f[len(f)-1]] = v
	}
	if _, ok := counts["total"]; !ok {
		return nil, fmt.Errorf("%s printed no total count: %q", counter, lastLines(b))
	}
	return counts, nil
}

// ErrNeighbourTableFull marks a round that failed while the kernel's
// neighbour (ARP) table overflowed. The table and its limit
// (net.ipv4.neigh.default.gc_thresh3, 1024 by default) are shared by every
// network namespace of the machine: other labs running at the same time
// can fill it, and then hosts of this lab cannot resolve each other.
var ErrNeighbourTableFull = errors.New("swarmbench: the kernel's neighbour (ARP) table, shared by all network namespaces, overflowed " +
	"(other labs running? wait for them, or raise net.ipv4.neigh.default.gc_thresh3)")

// neighbourTableFulls returns how often the kernel's ARP table was found
// full since boot (the table_fulls column of /proc/net/stat/arp_cache,
// summed over CPUs), or 0 if it cannot be read.
func neighbourTableFulls() int64 {
	b, err := os.ReadFile("/proc/net/stat/arp_cache")
	if err != nil {
		return 0
	}
	var sum int64
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) == 0 {
			continue // the header
		}
		v, err := strconv.ParseInt(f[len(f)-1], 16, 64)
		if err != nil {
			return 0
		}
		sum += v
	}
	return sum
}

var (
	originSummary = regexp.MustCompile(`origin: served (\d+) bytes .*?, (\d+) requests, (\d+) sendfile calls for \d+ files of (\d+) pieces`)
	pushOK        = regexp.MustCompile(`(\d+) of (\d+) transfers ok`)
)

// parsePushSummary reads the origin's counters from the push summary and
// checks that every transfer succeeded.
func parsePushSummary(b []byte, out *PushOutcome) error {
	if m := pushOK.FindSubmatch(b); m == nil || string(m[1]) != string(m[2]) {
		return fmt.Errorf("push did not succeed everywhere: %s", lastLines(b))
	}
	m := originSummary.FindSubmatch(b)
	if m == nil {
		return fmt.Errorf("no origin line in the push summary: %s", lastLines(b))
	}
	nums := make([]int64, 4)
	for i := range nums {
		nums[i], _ = strconv.ParseInt(string(m[i+1]), 10, 64)
	}
	out.Served, out.Requests, out.Sends, out.Pieces = nums[0], nums[1], nums[2], nums[3]
	return nil
}
