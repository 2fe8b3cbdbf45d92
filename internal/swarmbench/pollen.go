// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

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
// peer downloads with `pollen get` through its daemon's socket, all at
// once. The daemons run without rate limits of their own: the lab's links
// shape them as they shape the baselines.
type Pollen struct {
	// Binary is the pollen executable run in the hosts. Required.
	Binary string
	// PieceSize, if not zero, overrides the piece size the daemons choose.
	PieceSize int64
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
	defer func() { netlab.StopAll(procs...) }()

	schedAddr := net.JoinHostPort(origin.Addr.String(), strconv.Itoa(schedulerPort))
	schedLog := filepath.Join(task.Dir, "scheduler.log")
	sched, err := startLogged(ctx, origin, schedLog, p.Binary, "scheduler", "--listen", schedAddr, "--log-level", "warn")
	if err != nil {
		return out, err
	}
	procs = append(procs, sched)
	if err := waitReady(ctx, origin, sched, schedAddr, schedLog); err != nil {
		return out, fmt.Errorf("scheduler: %w", err)
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
		}
		if p.PieceSize > 0 {
			args = append(args, "--piece-size", strconv.FormatInt(p.PieceSize, 10))
		}
		d, err := startLogged(ctx, h, filepath.Join(dirs[i], "daemon.log"), p.Binary, args...)
		if err != nil {
			return out, err
		}
		procs = append(procs, d)
	}
	daemons := procs[2:]
	for i := range peers {
		if err := waitRegistered(ctx, daemons[i], socks[i]); err != nil {
			return out, fmt.Errorf("daemon on host %d: %w (log: %s)", peers[i].Index, err,
				tailFile(filepath.Join(dirs[i], "daemon.log")))
		}
	}

	url := "http://" + httpAddr + "/" + filepath.Base(task.File)
	start := time.Now()
	gets := make([]*netlab.Proc, len(peers))
	out.Copies = make([]string, len(peers))
	for i, h := range peers {
		out.Copies[i] = filepath.Join(dirs[i], filepath.Base(task.File))
		g, err := startLogged(ctx, h, filepath.Join(dirs[i], "get.log"), p.Binary,
			"get", "--socket", socks[i], "--digest", "sha256:"+fmt.Sprintf("%x", task.SHA256), "-o", out.Copies[i], url)
		if err != nil {
			return out, err
		}
		gets[i] = g
		procs = append(procs, g)
	}
	out.PerHost = make([]time.Duration, len(peers))
	for i, g := range gets {
		if err := g.Wait(); err != nil {
			return out, fmt.Errorf("pollen get on host %d: %w (%s)", peers[i].Index, err,
				tailFile(filepath.Join(dirs[i], "get.log")))
		}
		out.PerHost[i] = g.Started().Add(g.Elapsed()).Sub(start)
		out.AllDone = max(out.AllDone, out.PerHost[i])
	}
	out.CPU, err = cpuOf(procs)
	return out, err
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
