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
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/netlab"
)

// Ports pollen listens on inside the lab.
const (
	schedulerPort = 7600
	daemonPort    = 7601
)

// Pollen is pollen's own swarm, the system under test: nginx on the origin
// serves the file (the origin of the HTTP baseline), `pollen scheduler`
// runs on the origin host too, a `pollen daemon` on every peer, and every
// peer's daemon is asked for the file through its Unix socket (the local
// API `pollen get` uses), all at once. The daemons run without rate limits
// of their own: the lab's links shape them as they shape the baselines.
//
// Every request carries a manifest, the SHA-256 of every piece, computed
// before the clock starts as mktorrent's piece hashes are for BitTorrent:
// each daemon checks every piece against it before keeping or serving it,
// hashing each byte once. With WholeDigest the request also carries the
// file's SHA-256, as `pollen get --digest` does, which adds a running
// whole-file hash, a second pass over every byte.
type Pollen struct {
	// Binary is the pollen executable run in the hosts. Required.
	Binary string
	// PieceSize, if not zero, overrides the piece size the daemons choose.
	PieceSize int64
	// WholeDigest makes every daemon check the whole file's SHA-256 as
	// well as the manifest's per-piece digests.
	WholeDigest bool
	// SchedulerArgs and DaemonArgs are added to the command lines of
	// `pollen scheduler` and `pollen daemon` (tuning experiments, such as
	// --origin-concurrency or --concurrency).
	SchedulerArgs, DaemonArgs []string
	// LogDir, if not empty, receives a copy of the scheduler's and every
	// daemon's log after the run (scheduler.log, daemon-hN.log), which the
	// lab otherwise deletes with the run's directory. With
	// DaemonArgs --log-level=debug they hold every piece's timeline.
	LogDir string
	// Logger receives per-run details; nil discards.
	Logger *slog.Logger
}

// Name implements [System].
func (Pollen) Name() string { return "pollen" }

func (Pollen) tools() []string { return []string{"nginx"} }

// Run implements [System].
func (p Pollen) Run(ctx context.Context, lab *netlab.Lab, task Task) (out Outcome, err error) {
	if p.Binary == "" {
		return out, errors.New("pollen: no binary to run")
	}
	origin, peers := lab.Host(0), lab.Hosts()[1:]
	httpAddr := net.JoinHostPort(origin.Addr.String(), strconv.Itoa(httpPort))
	nginx, err := startNginx(ctx, origin, filepath.Join(task.Dir, "nginx"), httpAddr, filepath.Dir(task.File))
	if err != nil {
		return out, err
	}
	procs := []*netlab.Proc{nginx}
	var logs []string // copied to p.LogDir once every process has stopped
	defer func() {
		netlab.StopAll(procs...)
		if cerr := p.keepLogs(logs); cerr != nil && err == nil {
			err = cerr
		}
	}()

	schedAddr := net.JoinHostPort(origin.Addr.String(), strconv.Itoa(schedulerPort))
	schedLog := filepath.Join(task.Dir, "scheduler.log")
	sched, err := startLogged(ctx, origin, schedLog, p.Binary,
		append([]string{"scheduler", "--listen", schedAddr, "--log-level", "warn"}, p.SchedulerArgs...)...)
	if err != nil {
		return out, err
	}
	procs = append(procs, sched)
	logs = append(logs, schedLog)
	if err := waitReady(ctx, origin, sched, schedAddr, schedLog); err != nil {
		return out, fmt.Errorf("scheduler: %w", err)
	}

	ps := p.PieceSize
	if ps == 0 {
		ps = core.PieceSizeFor(task.Size)
	}
	manifest, err := pieceDigests(task.File, core.Layout{Size: task.Size, PieceSize: ps})
	if err != nil {
		return out, err
	}

	socks := make([]string, len(peers))
	dirs := make([]string, len(peers))
	for i, h := range peers {
		dirs[i] = filepath.Join(task.Dir, "h"+strconv.Itoa(h.Index))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			return out, fmt.Errorf("peer dir: %w", err)
		}
		socks[i] = filepath.Join(dirs[i], "pollen.sock")
		args := []string{
			"daemon", "--scheduler", schedAddr,
			"--listen", net.JoinHostPort(h.Addr.String(), strconv.Itoa(daemonPort)),
			"--data", filepath.Join(dirs[i], "data"), "--socket", socks[i],
			"--upload-rate", "0", "--download-rate", "0", "--log-level", "warn",
			"--piece-size", strconv.FormatInt(ps, 10),
		}
		args = append(args, p.DaemonArgs...)
		d, err := startLogged(ctx, h, filepath.Join(dirs[i], "daemon.log"), p.Binary, args...)
		if err != nil {
			return out, err
		}
		procs = append(procs, d)
		logs = append(logs, filepath.Join(dirs[i], "daemon.log"))
	}
	daemons := procs[2:]
	for i := range peers {
		if err := waitRegistered(ctx, daemons[i], socks[i]); err != nil {
			return out, fmt.Errorf("daemon on host %d: %w (log: %s)", peers[i].Index, err,
				tailFile(filepath.Join(dirs[i], "daemon.log")))
		}
	}

	url := "http://" + httpAddr + "/" + filepath.Base(task.File)
	req := daemon.Request{URL: url, PieceSize: ps, PieceDigests: manifest}
	if p.WholeDigest {
		req.Digest = core.Digest(task.SHA256)
	}
	clients := make([]*daemon.Client, len(peers))
	for i := range clients {
		clients[i] = daemon.NewClient(socks[i])
	}
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	out.Started = start
	out.Copies = make([]string, len(peers))
	out.PerHost = make([]time.Duration, len(peers))
	progs := make([]daemon.Progress, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i := range peers {
		out.Copies[i] = filepath.Join(dirs[i], filepath.Base(task.File))
		r := req
		r.Output = out.Copies[i]
		wg.Go(func() {
			tr, err := clients[i].Download(dctx, r)
			if err == nil {
				err = tr.Wait(dctx)
				progs[i] = tr.Progress()
			}
			out.PerHost[i] = time.Since(start)
			if err != nil {
				errs[i] = fmt.Errorf("download on host %d: %w (log: %s)", peers[i].Index, err,
					tailFile(filepath.Join(dirs[i], "daemon.log")))
				cancel() // one failure fails the run: stop the others
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	var fromSource int64
	for i, d := range out.PerHost {
		out.AllDone = max(out.AllDone, d)
		fromSource += progs[i].FromSource
	}
	if p.Logger != nil {
		p.Logger.Info("swarmbench: pollen", "first_done", slices.Min(out.PerHost), "all_done", out.AllDone,
			"from_source", fromSource, "piece_size", ps, "pieces", len(manifest))
	}
	out.CPU, err = cpuOf(procs)
	return out, err
}

// keepLogs copies the logs at paths into p.LogDir, if set: scheduler.log
// as it is, a daemon's log (dir/hN/daemon.log) as daemon-hN.log.
func (p Pollen) keepLogs(paths []string) error {
	if p.LogDir == "" || len(paths) == 0 {
		return nil
	}
	var errs []error
	for _, src := range paths {
		name := filepath.Base(src)
		if name == "daemon.log" {
			name = "daemon-" + filepath.Base(filepath.Dir(src)) + ".log"
		}
		if err := copyFile(filepath.Join(p.LogDir, name), src); err != nil {
			errs = append(errs, fmt.Errorf("pollen logs: %w", err))
		}
	}
	return errors.Join(errs...)
}

// waitRegistered waits until the daemon answers on its socket and is
// registered with the scheduler, so that no download starts on its own
// from the origin. It fails at once if the daemon exits.
func waitRegistered(ctx context.Context, d *netlab.Proc, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c := daemon.NewClient(socket)
	defer func() { _ = c.Close() }()
	for {
		st, err := c.Stats(ctx)
		if err == nil && st.Registered {
			return nil
		}
		select {
		case <-d.Done():
			return fmt.Errorf("exited: %w", d.Wait())
		case <-ctx.Done():
			if err == nil {
				err = errors.New("not registered with the scheduler")
			}
			return fmt.Errorf("not ready after 20s: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pieceDigests returns the SHA-256 of every piece of the file at path, cut
// by layout: the manifest a publisher hands out with the URL.
func pieceDigests(path string, layout core.Layout) ([]core.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer func() { _ = f.Close() }()
	ds := make([]core.Digest, layout.Pieces())
	br := bufio.NewReaderSize(f, 1<<20)
	h := sha256.New()
	for i := range ds {
		h.Reset()
		r := layout.Piece(core.PieceIndex(i))
		if _, err := io.CopyN(h, br, r.Len); err != nil {
			return nil, fmt.Errorf("manifest: read %s: %w", path, err)
		}
		h.Sum(ds[i][:0])
	}
	return ds, nil
}
