// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/internal/source"
	"github.com/pollen-dev/pollen/msg"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	if os.Getenv(streamChildEnv) != "" {
		os.Exit(streamChildMain())
	}
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails if goroutines running pollen code outlive the tests.
func checkLeaks() error {
	var leaked []string
	for deadline := time.Now().Add(5 * time.Second); ; {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		leaked = leaked[:0]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/pollen-dev/pollen/") && !strings.Contains(g, "checkLeaks") &&
				!strings.Contains(g, "testing.(*M)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked goroutines:\n%s", strings.Join(leaked, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogger logs to the test at debug level when -v, else discards.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// genData returns n pseudo-random bytes.
func genData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// origin is an HTTP origin on loopback that counts the body bytes it
// serves. fault, if set, may answer a request instead (return true).
type origin struct {
	srv    *httptest.Server
	data   []byte
	served atomic.Int64
	reqs   atomic.Int64
	fault  atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newOrigin(t *testing.T, data []byte) *origin {
	o := &origin{data: data}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.reqs.Add(1)
		if f := o.fault.Load(); f != nil && (*f)(w, r) {
			return
		}
		http.ServeContent(countingWriter{w, &o.served}, r, "blob", time.Time{}, bytes.NewReader(o.data))
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) url() string { return o.srv.URL + "/blob" }

func (o *origin) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	if f == nil {
		o.fault.Store(nil)
		return
	}
	o.fault.Store(&f)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// fastSource retries quickly.
func fastSource() source.Config {
	return source.Config{Timeout: 2 * time.Second, Attempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}
}

// baseConfig is a daemon config for tests: loopback, fast timers.
func baseConfig(t *testing.T, sched string) daemon.Config {
	return daemon.Config{
		DataDir:            t.TempDir(),
		Listen:             "127.0.0.1:0",
		Scheduler:          sched,
		PieceSize:          256 << 10,
		Concurrency:        4,
		PieceTimeout:       5 * time.Second,
		SchedulerTimeout:   2 * time.Second,
		ReconnectInterval:  200 * time.Millisecond,
		StallTimeout:       time.Second,
		RetransmitInterval: 100 * time.Millisecond,
		Source:             fastSource(),
	}
}

// Tests that bound the origin's bytes (about one copy of the file) run
// their swarm with patient timers: on a loaded machine (the race
// detector, other builds on two shared cores) heartbeats and scheduler
// answers come late, and the defaults' reactions to that (dropping a
// peer after 3 missed heartbeats, which makes its pieces stop counting;
// the 1 s stall fallback; a 2 s scheduler request timeout counted as an
// unavailable scheduler) all send daemons to the origin on their own,
// which is not what those tests measure.

// patientScheduler is the scheduler config of such tests.
func patientScheduler() scheduler.Config { return scheduler.Config{PeerTimeout: 10 * time.Second} }

// patient returns cfg with the daemon's fallbacks to the source slowed.
func patient(cfg daemon.Config) daemon.Config {
	cfg.StallTimeout = 10 * time.Second
	cfg.SchedulerTimeout = 10 * time.Second
	return cfg
}

// startDaemon creates and runs a daemon, closed at cleanup.
func startDaemon(t testing.TB, cfg daemon.Config) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err == nil {
			t.Errorf("Run returned nil")
		}
	})
	return d
}

// fetch downloads url with d into a file and returns its path, failing
// the test on error.
func fetch(t *testing.T, d *daemon.Daemon, req daemon.Request) (string, daemon.Progress) {
	t.Helper()
	if req.Output == "" {
		req.Output = filepath.Join(t.TempDir(), "out")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := d.Download(ctx, req)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if err := tr.Wait(ctx); err != nil {
		t.Fatalf("download: %v", err)
	}
	return req.Output, tr.Progress()
}

// checkFile compares the file at path with want.
func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: %d bytes, sha256 differs from the %d-byte original", path, len(got), len(want))
	}
}

// schedServer is a real scheduler serving a msg node on loopback.
type schedServer struct {
	s      *scheduler.Scheduler
	node   *msg.Node
	addr   string // host:port
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func startScheduler(t testing.TB, cfg scheduler.Config, listen string) *schedServer {
	t.Helper()
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 500 * time.Millisecond
	}
	if cfg.AssignTimeout == 0 {
		cfg.AssignTimeout = 5 * time.Second
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = time.Second
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 100 * time.Millisecond
	}
	s, err := scheduler.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	node, err := msg.NewNode(msg.Config{RetransmitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	if err := node.Listen(ctx, "tcp://"+listen); err != nil {
		t.Fatal(err)
	}
	ss := &schedServer{s: s, node: node, addr: strings.TrimPrefix(node.Addr(), "tcp://"), cancel: cancel}
	ss.wg.Add(2)
	go func() {
		defer ss.wg.Done()
		_ = s.Run(ctx)
	}()
	go func() {
		defer ss.wg.Done()
		_ = s.Serve(ctx, node)
	}()
	t.Cleanup(ss.stop)
	return ss
}

// stop kills the scheduler: its node closes without a word to the peers.
func (ss *schedServer) stop() {
	ss.once.Do(func() {
		ss.cancel()
		_ = ss.node.Close()
		_ = ss.s.Close()
		ss.wg.Wait()
	})
}

// digestOf returns the SHA-256 of b.
func digestOf(b []byte) core.Digest { return core.DigestOf(b) }

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var _ = errors.Is
