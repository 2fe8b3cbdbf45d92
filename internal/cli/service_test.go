// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/daemon"
)

// TestSchedulerDaemonGet runs `pollen scheduler` and `pollen daemon` as
// services, downloads through the daemon's socket with `pollen get`,
// scrapes both metrics endpoints and stops both with their contexts.
func TestSchedulerDaemonGet(t *testing.T) {
	schedAddr, schedMetrics, daemonMetrics := freeAddr(t), freeAddr(t), freeAddr(t)
	sched := start(t, "scheduler", "--listen", schedAddr, "--metrics-addr", schedMetrics, "--log-level", "debug")

	dir := t.TempDir()
	sock := filepath.Join(dir, "pollen.sock")
	d := start(t, "daemon", "--scheduler", schedAddr, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--socket", sock, "--upload-rate", "0", "--download-rate", "1Gbit", "--metrics-addr", daemonMetrics)
	client := daemon.NewClient(sock)
	defer func() { _ = client.Close() }()
	waitFor(t, "the daemon's socket", func() bool {
		if code, ok := d.exited(); ok {
			t.Fatalf("daemon exited with %d:\n%s", code, d.stderr.String())
		}
		return client.Ping(t.Context()) == nil
	})
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	scrape(t, schedMetrics, "pollen_scheduler_peers 1", "pollen_scheduler_msg_sessions_total", "go_goroutines")

	src, data := randomFile(t, 2<<20)
	out := filepath.Join(t.TempDir(), "out.bin")
	code, _, stderr := run(t, "get", "--socket", sock, "file://"+src, "-o", out)
	if code != 0 {
		t.Fatalf("get: exit %d, stderr:\n%s", code, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs from the source (%v)", err)
	}
	st, err := client.Stats(t.Context())
	if err != nil || st.BytesFromSource != uint64(len(data)) || st.SeedingTasks != 1 {
		t.Errorf("daemon stats %+v (%v): the download did not go through it", st, err)
	}
	body := scrape(t, daemonMetrics, "pollen_daemon_source_bytes_total 2.097152e+06", "pollen_daemon_registered 1")
	if !strings.Contains(body, "pollen_daemon_seeding_tasks 1") {
		t.Errorf("daemon metrics lack the seeding task:\n%.3000s", body)
	}

	if code := d.stop(t); code != 0 {
		t.Errorf("daemon exit %d after cancel; stderr:\n%s", code, d.stderr.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after shutdown: %v", err)
	}
	if code := sched.stop(t); code != 0 {
		t.Errorf("scheduler exit %d after cancel; stderr:\n%s", code, sched.stderr.String())
	}
	if !strings.Contains(sched.stderr.String(), "scheduler listening") {
		t.Errorf("scheduler logged no start line:\n%s", sched.stderr.String())
	}
}

func TestConfigFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pollen.yaml")
	write := func(s string) {
		if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A typo in the file is a usage error.
	write("scheduler:\n  lisen: 127.0.0.1:1\n")
	if code, _, stderr := run(t, "scheduler", "--config", conf); code != 2 || !strings.Contains(stderr, "lisen") {
		t.Errorf("unknown key: exit %d, stderr %q", code, stderr)
	}
	// The file's listen address is used (and found busy).
	busy := freeAddr(t)
	hold := start(t, "scheduler", "--listen", busy)
	waitFor(t, "the first scheduler", func() bool { return strings.Contains(hold.stderr.String(), "listening") })
	write("scheduler:\n  listen: " + busy + "\n")
	if code, _, stderr := run(t, "scheduler", "--config", conf); code != 1 || !strings.Contains(stderr, busy) {
		t.Errorf("busy address from the file: exit %d, stderr %q", code, stderr)
	}
	// POLLEN_* beats the file; the file is found through POLLEN_CONFIG.
	t.Setenv("POLLEN_CONFIG", conf)
	t.Setenv("POLLEN_SCHEDULER_LOG_LEVEL", "shouty")
	if code, _, stderr := run(t, "scheduler"); code != 2 || !strings.Contains(stderr, "shouty") {
		t.Errorf("bad level from the environment: exit %d, stderr %q", code, stderr)
	}
}
