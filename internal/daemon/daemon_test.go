// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"path/filepath"
	"testing"

	"github.com/pollen-dev/pollen/internal/daemon"
)

// TestSourceOnly downloads from an HTTP origin without a scheduler.
func TestSourceOnly(t *testing.T) {
	data := genData(4<<20+12345, 1)
	o := newOrigin(t, data)
	d := startDaemon(t, baseConfig(t, ""))
	out, p := fetch(t, d, daemon.Request{URL: o.url(), Digest: digestOf(data)})
	checkFile(t, out, data)
	if p.State != daemon.StateDone || p.Done != int64(len(data)) || p.FromSource != int64(len(data)) || p.Sum != digestOf(data) {
		t.Fatalf("progress %+v", p)
	}
	// The size probe costs one byte (Range: bytes=0-0).
	served := o.served.Load()
	if served > int64(len(data))+1 {
		t.Fatalf("origin served %d bytes, want %d", served, len(data))
	}
	// Asking again is served from the store: no origin bytes.
	out2, _ := fetch(t, d, daemon.Request{URL: o.url(), Digest: digestOf(data), Output: filepath.Join(t.TempDir(), "again")})
	checkFile(t, out2, data)
	if got := o.served.Load(); got > served+1 {
		t.Fatalf("origin served %d bytes after the second get, want %d", got, served)
	}
	if s := d.Stats(); s.SeedingTasks != 1 || s.ActiveTasks != 0 || s.BytesFromSource != uint64(len(data)) {
		t.Fatalf("stats %+v", s)
	}
}
