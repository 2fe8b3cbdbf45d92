// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
)

// loopbackPollen is one pollen transfer on loopback: a `pollen scheduler`
// and two `pollen daemon` processes in host h, the seed holding the file
// (fetched from a file:// URL first) and a fresh leech per run fetching it
// from the seed, every piece verified against a manifest (one SHA-256 pass
// per byte, in the leech). Reported, medians over runs: the leech's
// throughput, the CPU per GiB of the seed (the serving side, to set beside
// nginx's) and of the leech, and, when perf(1) can count system calls,
// the seed's system calls per GiB served with its pieces per GiB beside
// them.
func loopbackPollen(ctx context.Context, cfg Config, h *netlab.Host, dir string, f file, w *report.Writer) error {
	bin := cfg.PollenBinary
	// pollen's default piece size for the file, and 4 MiB: the system
	// calls per GiB of the two show whether they follow pieces or bytes.
	sizes := []int64{core.PieceSizeFor(f.size)}
	if sizes[0] != 4<<20 {
		sizes = append(sizes, 4<<20)
	}
	const schedAddr = "127.0.0.1:7600"
	var procs []*netlab.Proc
	defer func() { netlab.StopAll(procs...) }()
	schedLog := filepath.Join(dir, "pollen-scheduler.log")
	sched, err := startLogged(ctx, h, schedLog, bin, "scheduler", "--listen", schedAddr, "--log-level", "warn")
	if err != nil {
		return err
	}
	procs = append(procs, sched)
	if err := waitReady(ctx, h, sched, schedAddr, schedLog); err != nil {
		return fmt.Errorf("pollen scheduler: %w", err)
	}
	startDaemon := func(name string, port int) (*netlab.Proc, *daemon.Client, error) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
		sock := filepath.Join(d, "pollen.sock")
		p, err := startLogged(ctx, h, filepath.Join(d, "daemon.log"), bin,
			"daemon", "--scheduler", schedAddr, "--listen", "127.0.0.1:"+strconv.Itoa(port),
			"--data", filepath.Join(d, "data"), "--socket", sock, "--upload-rate", "0", "--download-rate", "0",
			"--log-level", "warn")
		if err != nil {
			return nil, nil, err
		}
		procs = append(procs, p)
		if err := waitRegistered(ctx, p, sock); err != nil {
			return nil, nil, fmt.Errorf("pollen daemon %s: %w (log: %s)", name, err, tailFile(filepath.Join(d, "daemon.log")))
		}
		return p, daemon.NewClient(sock), nil
	}
	seed, sc, err := startDaemon("seed", 7601)
	if err != nil {
		return err
	}
	defer func() { _ = sc.Close() }()
	port := 7602
	for _, ps := range sizes {
		layout := core.Layout{Size: f.size, PieceSize: ps}
		manifest, err := pieceDigests(f.path, layout)
		if err != nil {
			return err
		}
		req := daemon.Request{URL: "file://" + f.path, PieceSize: ps, PieceDigests: manifest}
		if err := download(ctx, sc, req); err != nil {
			return fmt.Errorf("pollen seed: %w", err)
		}
		if err := loopbackPollenRuns(ctx, cfg, f, layout, req, seed, func() (*netlab.Proc, *daemon.Client, error) {
			port++
			return startDaemon("leech"+strconv.Itoa(port), port)
		}, w); err != nil {
			return err
		}
	}
	return nil
}

// loopbackPollenRuns measures cfg.LoopbackRuns transfers of req from seed
// to a fresh leech each, and adds the medians to w.
func loopbackPollenRuns(ctx context.Context, cfg Config, f file, layout core.Layout, req daemon.Request, seed *netlab.Proc,
	startLeech func() (*netlab.Proc, *daemon.Client, error), w *report.Writer,
) error {
	g := float64(f.size) / gib
	var tputs, seedCPU, leechCPU, calls []float64
	for range cfg.LoopbackRuns {
		leech, lc, err := startLeech()
		if err != nil {
			return err
		}
		s0, l0, err := cpuPair(seed, leech)
		if err != nil {
			return err
		}
		count := countSyscalls(ctx, seed.Pid())
		start := time.Now()
		tr, err := lc.Download(ctx, req)
		if err == nil {
			err = tr.Wait(ctx)
		}
		elapsed := time.Since(start)
		n, cerr := count()
		_ = lc.Close()
		if err != nil {
			return fmt.Errorf("pollen leech: %w", err)
		}
		if p := tr.Progress(); p.FromPeers != f.size {
			return fmt.Errorf("pollen leech: %d bytes from the seed, %d from the source; want %d from the seed", p.FromPeers, p.FromSource, f.size)
		}
		s1, l1, err := cpuPair(seed, leech)
		if err != nil {
			return err
		}
		leech.Stop()
		tputs = append(tputs, float64(f.size)/elapsed.Seconds()/1e6)
		seedCPU = append(seedCPU, (s1-s0).Seconds()/g)
		leechCPU = append(leechCPU, (l1-l0).Seconds()/g)
		if cerr == nil {
			calls = append(calls, float64(n)/g)
		} else {
			cfg.Logger.Info("swarmbench: loopback pollen: no system call count", "err", cerr)
		}
	}
	cfg.Logger.Info("swarmbench: loopback pollen", "piece_size", layout.PieceSize, "MB/s", tputs, "seed s/GiB", seedCPU, "leech s/GiB", leechCPU,
		"seed syscalls/GiB", calls, "pieces/GiB", float64(layout.Pieces())/g)
	results := []report.Result{
		{Metric: "throughput", Unit: "MB/s", Value: report.Median(tputs), Better: report.Higher},
		{Metric: "server_cpu_per_gib", Unit: "s/GiB", Value: report.Median(seedCPU), Better: report.Lower},
		{Metric: "client_cpu_per_gib", Unit: "s/GiB", Value: report.Median(leechCPU), Better: report.Lower},
	}
	if len(calls) > 0 {
		results = append(results, report.Result{
			Metric: "server_syscalls_per_gib", Unit: "1/GiB", Value: report.Median(calls), Better: report.Lower,
		}.WithBaseline("pieces_per_gib", float64(layout.Pieces())/g))
	}
	for _, r := range results {
		r.Bench, r.Case = "swarm", fmt.Sprintf("loopback-pollen-%dKiB", layout.PieceSize>>10)
		if err := w.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// cpuPair returns the CPU time a and b have used so far.
func cpuPair(a, b *netlab.Proc) (time.Duration, time.Duration, error) {
	ca, err := a.CPU()
	if err != nil {
		return 0, 0, err
	}
	cb, err := b.CPU()
	return ca, cb, err
}

// download runs req to completion through c.
func download(ctx context.Context, c *daemon.Client, req daemon.Request) error {
	tr, err := c.Download(ctx, req)
	if err != nil {
		return err
	}
	return tr.Wait(ctx)
}

// countSyscalls starts counting the system calls of process pid (all its
// threads) with perf(1) and returns the function that stops and reads the
// count. Without perf, or when it cannot count, the count is an error.
func countSyscalls(ctx context.Context, pid int) func() (int64, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return func() (int64, error) { return 0, err }
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", strconv.Itoa(pid))
	cmd.Stderr = &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return func() (int64, error) { return 0, err }
	}
	// perf attaches to the threads after it started; give it a moment.
	time.Sleep(200 * time.Millisecond)
	return func() (int64, error) {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait() // perf exits non-zero when interrupted
		for _, line := range strings.Split(out.String(), "\n") {
			fields := strings.Split(line, ",")
			if len(fields) >= 3 && fields[2] == "raw_syscalls:sys_enter" {
				return strconv.ParseInt(fields[0], 10, 64)
			}
		}
		return 0, errors.New("perf stat: no count in " + strconv.Quote(lastLines(out.Bytes())))
	}
}
