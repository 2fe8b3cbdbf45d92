// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs the command line args in-process and returns its exit status,
// stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// service is a long-running command (scheduler, daemon) run in-process.
type service struct {
	cancel context.CancelFunc
	done   chan int
	stderr *syncBuffer
}

// start runs args until stop (or the test's end) cancels its context.
func start(t *testing.T, args ...string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	go func() { s.done <- Run(ctx, args, io.Discard, s.stderr) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the service and returns its exit status.
func (s *service) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("service did not stop within 15s; stderr:\n%s", s.stderr.String())
		return -1
	}
}

// exited reports the exit status if the service has already ended.
func (s *service) exited() (int, bool) {
	select {
	case code := <-s.done:
		s.done <- code
		return code, true
	default:
		return 0, false
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// randomFile writes n random bytes to a new file and returns its path and
// contents.
func randomFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// scrape polls http://addr/metrics until its body contains every one of
// want, and returns the body.
func scrape(t *testing.T, addr string, want ...string) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		body = string(b)
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(body, w)
		}
		if !missing {
			return body
		}
	}
	t.Fatalf("metrics at %s lack %q; last scrape:\n%.2000s", addr, want, body)
	return ""
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// benchLine is one line of `pollen bench ... --json`.
type benchLine struct {
	Bench         string   `json:"bench"`
	Case          string   `json:"case"`
	Metric        string   `json:"metric"`
	Unit          string   `json:"unit"`
	Value         float64  `json:"value"`
	Better        string   `json:"better"`
	Baseline      string   `json:"baseline"`
	BaselineValue *float64 `json:"baseline_value"`
}

// decodeBenchLine decodes line strictly: a field benchLine lacks fails the
// test.
func decodeBenchLine(t *testing.T, line string) benchLine {
	t.Helper()
	var r benchLine
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return r
}
