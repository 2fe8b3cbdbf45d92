// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
)

// helperEnv makes the test binary run as a daemon process (see helperMain).
const helperEnv = "POLLEN_DAEMON_TEST_HELPER"

// helperMain runs a daemon configured from the environment until SIGTERM
// (or SIGKILL, which is the point).
func helperMain() int {
	rate, _ := strconv.ParseInt(os.Getenv("POLLEN_HELPER_RATE"), 10, 64)
	cfg := daemon.Config{
		DataDir:      os.Getenv("POLLEN_HELPER_DIR"),
		Socket:       os.Getenv("POLLEN_HELPER_SOCKET"),
		DownloadRate: rate,
		PieceSize:    256 << 10,
		Concurrency:  4,
	}
	d, err := daemon.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_ = d.Run(ctx)
	return 0
}

// startHelper starts a daemon process on dir and waits for its socket.
func startHelper(t *testing.T, dir, sock string, rate int64, logs *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "POLLEN_HELPER_DIR="+dir, "POLLEN_HELPER_SOCKET="+sock,
		"POLLEN_HELPER_RATE="+strconv.FormatInt(rate, 10))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := daemon.NewClient(sock)
	defer func() { _ = c.Close() }()
	waitFor(t, "the daemon's socket", 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx) == nil
	})
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	return cmd
}

// TestKillRestart kills a daemon process with SIGKILL in the middle of a
// download and starts it again on the same data directory: the download
// resumes from the pieces made durable before the kill, the output is
// right, and nothing half-written appeared before. A piece is served and
// counted once verified, before the group commit that makes it durable,
// so the pieces of the batch being flushed at the kill may be fetched
// again; nothing else is.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	data := genData(8<<20, 8)
	o := newOrigin(t, data)
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	out := filepath.Join(t.TempDir(), "out")
	req := daemon.Request{URL: o.url(), Digest: digestOf(data), Output: out}
	var logs bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", logs.String())
		}
	}()

	cmd := startHelper(t, dir, sock, 4<<20, &logs) // 8 MiB at 4 MiB/s: about 2 s
	c := daemon.NewClient(sock)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := c.Download(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a third of the file", 10*time.Second, func() bool { return tr.Progress().Done > int64(len(data))/3 })
	seen := tr.Progress().Done
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := tr.Wait(ctx); err == nil {
		t.Fatal("the transfer survived its daemon")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output exists after the kill: %v", err)
	}

	cmd = startHelper(t, dir, sock, 0, &logs)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	tr, err = c.Download(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	checkFile(t, out, data)
	p := tr.Progress()
	t.Logf("killed at %d bytes seen; resumed %d; origin served %d of %d", seen, p.Resumed, o.served.Load(), len(data))
	if p.Resumed == 0 {
		t.Fatalf("resumed nothing, but %d bytes were verified before the kill", seen)
	}
	if p.Sum != digestOf(data) || p.State != daemon.StateDone {
		t.Fatalf("progress %+v", p)
	}
	// Pieces in flight at the kill are fetched twice, and so are those
	// verified but not yet durable (seen - resumed, if positive); nothing
	// else.
	if limit := int64(len(data)) + max(seen-p.Resumed, 0) + 4*256<<10 + 16; o.served.Load() > limit {
		t.Fatalf("origin served %d bytes, more than %d", o.served.Load(), limit)
	}
}
