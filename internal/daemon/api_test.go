// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
)

// TestLocalAPI drives an in-process daemon through its Unix socket: a
// download with progress, sentinel errors restored on the client side,
// cancellation, stats.
func TestLocalAPI(t *testing.T) {
	data := genData(2<<20, 10)
	o := newOrigin(t, data)
	cfg := baseConfig(t, "")
	cfg.Socket = filepath.Join(t.TempDir(), "api.sock")
	d := startDaemon(t, cfg)
	c := daemon.NewClient(d.SocketPath())
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	out := filepath.Join(t.TempDir(), "out")
	tr, err := c.Download(ctx, daemon.Request{URL: o.url(), Digest: digestOf(data), Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	checkFile(t, out, data)
	if p := tr.Progress(); p.State != daemon.StateDone || p.Done != int64(len(data)) || p.Sum != digestOf(data) {
		t.Fatalf("progress %+v", p)
	}

	if _, err := c.Download(ctx, daemon.Request{URL: "ftp://example.com/x"}); !errors.Is(err, daemon.ErrBadRequest) {
		t.Fatalf("ftp URL: %v, want ErrBadRequest", err)
	}
	wrong := digestOf([]byte("not the data"))
	tr, err = c.Download(ctx, daemon.Request{URL: o.url() + "?d", Digest: wrong, Output: filepath.Join(t.TempDir(), "bad")})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctx); !errors.Is(err, daemon.ErrDigest) {
		t.Fatalf("wrong digest: %v, want ErrDigest", err)
	}

	// Cancel a slow download through the client.
	o.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Range") != "bytes=0-0" {
			time.Sleep(100 * time.Millisecond)
		}
		return false
	})
	slow := filepath.Join(t.TempDir(), "slow")
	tr, err = c.Download(ctx, daemon.Request{URL: o.url() + "?slow", Output: slow})
	if err != nil {
		t.Fatal(err)
	}
	tr.Cancel()
	if err := tr.Err(); !errors.Is(err, daemon.ErrCanceled) {
		t.Fatalf("cancelled: %v", err)
	}
	waitFor(t, "the daemon to drop the cancelled task", 5*time.Second, func() bool { return d.Stats().ActiveTasks == 0 })
	if _, err := os.Stat(slow); !os.IsNotExist(err) {
		t.Fatal("output of a cancelled download exists")
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.BytesFromSource < uint64(len(data)) {
		t.Fatalf("stats %+v", s)
	}
}
