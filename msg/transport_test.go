// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// processHelperEnv, when set, makes the test binary a helper process that serves
// the test service on the Unix socket it names (see TestMain).
const processHelperEnv = "POLLEN_MSG_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(processHelperEnv); path != "" {
		os.Exit(runHelper(path))
	}
	os.Exit(m.Run())
}

// runHelper serves the test service on unix://path until it is signalled
// or its parent goes away (stdin closes).
func runHelper(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := NewNode(Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = n.Close() }()
	if err := n.Listen(ctx, "unix://"+path); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		var b [1]byte
		_, _ = os.Stdin.Read(b[:]) // returns when the parent dies or closes it
		stop()
	}()
	s := &service{dir: filepath.Dir(path)}
	_ = s.run(ctx, n)
	return 0
}

var inprocSeq atomic.Uint64

// transports runs body once per transport with a client node and the
// address of a node running the test service: in this process, in a
// helper process over a Unix socket, and over TCP through wire.
func transports(t *testing.T, cfg Config, body func(t *testing.T, client *Node, dest string)) {
	for _, tr := range []string{"inproc", "unix-process", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			checkLeaks(t)
			client := newNode(t, cfg)
			var dest string
			switch tr {
			case "inproc":
				dest = fmt.Sprintf("inproc://svc-%d", inprocSeq.Add(1))
				startService(t, dest, cfg, &service{dir: t.TempDir()})
			case "unix-process":
				dest = startHelper(t)
			case "tcp":
				dest = startService(t, "tcp://127.0.0.1:0", cfg, &service{dir: t.TempDir()}).Addr()
			}
			body(t, client, dest)
		})
	}
}

func newNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

// startService runs s on a new node listening on addr and returns the
// node.
func startService(t testing.TB, addr string, cfg Config, s *service) *Node {
	t.Helper()
	n := newNode(t, cfg)
	if err := n.Listen(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.run(context.Background(), n)
	}()
	t.Cleanup(func() {
		_ = n.Close() // ends s.run
		wg.Wait()
	})
	return n
}

// startHelper starts the test binary as a helper process serving the test
// service over a Unix socket and returns its address.
func startHelper(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), processHelperEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			_ = c.Close() // the helper drops it: no hello within the handshake
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper process did not listen on %s: %v", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "unix://" + path
}

// checkLeaks fails the test if goroutines of msg or wire outlive it.
func checkLeaks(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			leaked := leakedGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked, the first:\n%s", len(leaked), leaked[0])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "leakedGoroutines") {
			continue
		}
		if strings.Contains(g, "pollen/msg.") || strings.Contains(g, "pollen/wire.") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}

// send is Send with a test timeout.
func send(t testing.TB, n *Node, dest string, m []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reply, err := n.Send(ctx, dest, m)
	if err != nil {
		t.Fatalf("send %q to %s: %v", m[:min(len(m), 1)], dest, err)
	}
	return reply
}

// wantErrReply checks that the service answered with the named error.
func wantErrReply(t testing.TB, reply []byte, want error) {
	t.Helper()
	if got := string(reply); got != errorPrefix+want.Error() {
		t.Fatalf("reply %q, want error %q", got, want)
	}
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
