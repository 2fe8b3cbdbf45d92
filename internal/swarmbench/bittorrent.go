// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
)

// Ports the baselines listen on inside the lab.
const (
	trackerPort = 6969
	seederPort  = 6881
	httpPort    = 8080
)

// BitTorrent is the BitTorrent baseline: opentracker on the origin, a
// torrent made by mktorrent, aria2c seeding on the origin and aria2c on every
// peer. Peers keep seeding after they complete until every peer is done, so
// late peers are served by early ones as in a real swarm. DHT, local peer
// discovery and peer exchange are off: peers learn of each other only from
// the tracker, all inside the lab.
//
// The zero value uses mktorrent's default piece size (256 KiB).
type BitTorrent struct {
	// PieceLog2 is the piece size as a power of two (mktorrent -l), 15
	// to 28; zero means mktorrent's default, 18.
	PieceLog2 int
}

// Name implements [System].
func (BitTorrent) Name() string { return "bittorrent" }

func (BitTorrent) tools() []string { return []string{"aria2c", "opentracker", "mktorrent"} }

// doneHook is run by aria2c when a download completes, before seeding
// (--on-bt-download-complete, arguments GID, file count, first file path).
// The marker's modification time is the completion time.
const doneHook = "#!/bin/sh\n: > \"$3.done\"\n"

// Run implements [System].
func (b BitTorrent) Run(ctx context.Context, lab *netlab.Lab, task Task) (out Outcome, err error) {
	origin, peers := lab.Host(0), lab.Hosts()[1:]
	name := filepath.Base(task.File)
	torrent := filepath.Join(task.Dir, name+".torrent")
	announce := fmt.Sprintf("http://%s/announce", net.JoinHostPort(origin.Addr.String(), strconv.Itoa(trackerPort)))

	// mktorrent only hashes the file; it touches no network.
	mk := []string{"-a", announce, "-o", torrent}
	if b.PieceLog2 != 0 {
		mk = append(mk, "-l", strconv.Itoa(b.PieceLog2))
	}
	if msg, err := exec.CommandContext(ctx, "mktorrent", append(mk, task.File)...).CombinedOutput(); err != nil {
		return out, fmt.Errorf("mktorrent: %w: %s", err, lastLines(msg))
	}
	meta, err := os.ReadFile(torrent)
	if err != nil {
		return out, fmt.Errorf("read torrent: %w", err)
	}
	hash, err := infoHash(meta)
	if err != nil {
		return out, fmt.Errorf("torrent %s: %w", torrent, err)
	}
	hook := filepath.Join(task.Dir, "done.sh")
	if err := os.WriteFile(hook, []byte(doneHook), 0o755); err != nil {
		return out, fmt.Errorf("write hook: %w", err)
	}

	var procs []*netlab.Proc
	defer func() { netlab.StopAll(procs...) }()

	trackerDir := filepath.Join(task.Dir, "tracker")
	if err := os.Mkdir(trackerDir, 0o755); err != nil {
		return out, fmt.Errorf("tracker dir: %w", err)
	}
	// Debian's opentracker serves only whitelisted torrents; it reads the
	// list after it has chrooted to its directory.
	if err := os.WriteFile(filepath.Join(trackerDir, "whitelist"), fmt.Appendf(nil, "%x\n", hash), 0o644); err != nil {
		return out, fmt.Errorf("tracker whitelist: %w", err)
	}
	port := strconv.Itoa(trackerPort)
	trackerLog := filepath.Join(task.Dir, "tracker.log")
	tracker, err := startLogged(ctx, origin, trackerLog,
		"opentracker", "-i", origin.Addr.String(), "-p", port, "-P", port, "-d", trackerDir, "-w", "whitelist")
	if err != nil {
		return out, err
	}
	procs = append(procs, tracker)
	if err := waitReady(ctx, origin, tracker, net.JoinHostPort(origin.Addr.String(), port), trackerLog); err != nil {
		return out, fmt.Errorf("opentracker: %w", err)
	}

	seedLog := filepath.Join(task.Dir, "seeder.log")
	seeder, err := startLogged(ctx, origin, seedLog, "aria2c", append(aria2Flags(origin, seedLog),
		"--dir="+filepath.Dir(task.File), "--listen-port="+strconv.Itoa(seederPort),
		"--bt-seed-unverified=true", "--check-integrity=false", torrent)...)
	if err != nil {
		return out, err
	}
	procs = append(procs, seeder)
	if err := waitSeeded(ctx, origin, hash); err != nil {
		return out, fmt.Errorf("seeder did not register with the tracker: %w (log: %s)", err, tailFile(seedLog))
	}

	start := time.Now()
	out.Started = start
	leechers := make([]*netlab.Proc, len(peers))
	out.Copies = make([]string, len(peers))
	logs := make([]string, len(peers))
	for i, h := range peers {
		dir := filepath.Join(task.Dir, "h"+strconv.Itoa(h.Index))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return out, fmt.Errorf("peer dir: %w", err)
		}
		out.Copies[i] = filepath.Join(dir, name)
		logs[i] = filepath.Join(dir, "aria2.log")
		p, err := startLogged(ctx, h, filepath.Join(dir, "aria2.out"), "aria2c", append(aria2Flags(h, logs[i]),
			"--dir="+dir, "--on-bt-download-complete="+hook, torrent)...)
		if err != nil {
			return out, err
		}
		leechers[i] = p
		procs = append(procs, p)
	}

	out.PerHost = make([]time.Duration, len(peers))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for left := len(peers); left > 0; {
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("%d of %d peers not done: %w", left, len(peers), ctx.Err())
		case <-tick.C:
		}
		left = 0
		for i, p := range leechers {
			if out.PerHost[i] != 0 {
				continue
			}
			st, err := os.Stat(out.Copies[i] + ".done")
			if err != nil {
				select {
				case <-p.Done():
					return out, fmt.Errorf("aria2c on host %d exited before completing: %w (log: %s)",
						peers[i].Index, p.Wait(), tailFile(logs[i]))
				default:
				}
				left++
				continue
			}
			out.PerHost[i] = max(st.ModTime().Sub(start), time.Nanosecond)
		}
	}
	for _, d := range out.PerHost {
		out.AllDone = max(out.AllDone, d)
	}
	out.CPU, err = cpuOf(procs)
	return out, err
}

// aria2Flags are the flags every aria2c of the swarm gets: no discovery
// outside the tracker, no preallocation, seed until stopped, bound to the
// host's address, and exit if this process dies.
func aria2Flags(h *netlab.Host, logFile string) []string {
	return []string{
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--disable-ipv6=true",
		"--interface=" + h.Addr.String(),
		"--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
		"--seed-ratio=0.0", "--bt-max-peers=0",
		"--summary-interval=0", "--enable-color=false", "--console-log-level=warn",
		"--log=" + logFile, "--log-level=notice",
		"--stop-with-process=" + strconv.Itoa(os.Getpid()),
	}
}

// startLogged starts name in host h with its output in the file logPath.
func startLogged(ctx context.Context, h *netlab.Host, logPath, name string, args ...string) (*netlab.Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	// The child has its own descriptor once started.
	defer func() { _ = f.Close() }()
	cmd := h.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	return h.Start(cmd)
}

// waitReady waits until p, running in h with its log in logPath, accepts
// connections at addr. It fails at once if p exits.
func waitReady(ctx context.Context, h *netlab.Host, p *netlab.Proc, addr, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := h.WaitListening(ctx, addr); err != nil {
		select {
		case <-p.Done():
			return fmt.Errorf("exited: %w (log: %s)", p.Wait(), tailFile(logPath))
		default:
			return fmt.Errorf("%w (log: %s)", err, tailFile(logPath))
		}
	}
	return nil
}

// cpuOf sums the CPU time of procs.
func cpuOf(procs []*netlab.Proc) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		d, err := p.CPU()
		if err != nil {
			return 0, fmt.Errorf("cpu of pid %d: %w", p.Pid(), err)
		}
		sum += d
	}
	return sum, nil
}

var scrapeComplete = regexp.MustCompile(`8:completei([0-9]+)e`)

// waitSeeded polls the tracker's scrape until it knows one seeder of the
// torrent, so that no leecher announces before the seeder has.
func waitSeeded(ctx context.Context, origin *netlab.Host, hash [20]byte) error {
	var q strings.Builder
	for _, c := range hash {
		fmt.Fprintf(&q, "%%%02X", c)
	}
	url := fmt.Sprintf("http://%s/scrape?info_hash=%s",
		net.JoinHostPort(origin.Addr.String(), strconv.Itoa(trackerPort)), q.String())
	client := &http.Client{
		Transport: &http.Transport{DialContext: origin.DialContext, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("scrape: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			_ = resp.Body.Close()
			if m := scrapeComplete.FindSubmatch(body); rerr == nil && m != nil && string(m[1]) != "0" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// infoHash returns the SHA-1 of the bencoded info dictionary of a torrent
// file, the torrent's identity at the tracker.
func infoHash(meta []byte) ([20]byte, error) {
	if len(meta) == 0 || meta[0] != 'd' {
		return [20]byte{}, errors.New("not a bencoded dictionary")
	}
	for i := 1; i < len(meta) && meta[i] != 'e'; {
		kend, err := bskip(meta, i)
		if err != nil {
			return [20]byte{}, err
		}
		key := meta[i:kend]
		vend, err := bskip(meta, kend)
		if err != nil {
			return [20]byte{}, err
		}
		if bytes.Equal(key, []byte("4:info")) {
			return sha1.Sum(meta[kend:vend]), nil
		}
		i = vend
	}
	return [20]byte{}, errors.New("no info dictionary")
}

// bskip returns the offset just past the bencoded value at b[i:].
func bskip(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	switch c := b[i]; {
	case c == 'i':
		j := bytes.IndexByte(b[i:], 'e')
		if j < 0 {
			return 0, io.ErrUnexpectedEOF
		}
		return i + j + 1, nil
	case c == 'l' || c == 'd':
		i++
		for i < len(b) && b[i] != 'e' {
			var err error
			if i, err = bskip(b, i); err != nil {
				return 0, err
			}
		}
		if i >= len(b) {
			return 0, io.ErrUnexpectedEOF
		}
		return i + 1, nil
	case c >= '0' && c <= '9':
		j := bytes.IndexByte(b[i:], ':')
		if j < 0 {
			return 0, io.ErrUnexpectedEOF
		}
		n, err := strconv.Atoi(string(b[i : i+j]))
		if err != nil || n < 0 || n > len(b)-(i+j+1) {
			return 0, fmt.Errorf("bad string length at %d", i)
		}
		return i + j + 1 + n, nil
	default:
		return 0, fmt.Errorf("bad bencode at %d", i)
	}
}

// tailFile returns the last lines of a log file, for error messages.
func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(b)
}

func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}
