// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/scheduler"
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

// TestEmptyFile downloads a zero-byte file:// object.
func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, baseConfig(t, ""))
	out, p := fetch(t, d, daemon.Request{URL: "file://" + path})
	checkFile(t, out, nil)
	if p.Pieces != 0 || p.State != daemon.StateDone {
		t.Fatalf("progress %+v", p)
	}
}

// TestSeedAfterRestart: a daemon restarted on its data dir seeds what it
// had finished; a new peer gets everything from it and nothing from the
// origin.
func TestSeedAfterRestart(t *testing.T) {
	data := genData(2<<20, 12)
	o := newOrigin(t, data)
	ss := startScheduler(t, scheduler.Config{}, "")
	cfg := baseConfig(t, ss.addr)
	a, err := daemon.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	req := daemon.Request{URL: o.url(), Digest: digestOf(data)}
	fetch(t, a, req)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	reported := ss.s.Stats().PiecesDone
	a2 := startDaemon(t, cfg)
	if a2.Stats().SeedingTasks != 1 {
		t.Fatalf("restarted daemon seeds %d tasks", a2.Stats().SeedingTasks)
	}
	// The restarted seed announces its pieces on its own schedule; until
	// the scheduler knows them, nobody holds them and a new peer is rightly
	// sent to the origin. Wait for the announcement.
	waitFor(t, "the restarted seed's pieces at the scheduler", 10*time.Second, func() bool {
		return ss.s.Stats().PiecesDone >= reported+uint64(len(data)/(256<<10))
	})
	before := o.served.Load()
	b := startDaemon(t, baseConfig(t, ss.addr))
	out, p := fetch(t, b, req)
	checkFile(t, out, data)
	if p.FromPeers != int64(len(data)) || o.served.Load()-before > 1 {
		t.Fatalf("progress %+v; origin served %d more bytes", p, o.served.Load()-before)
	}
}

// TestGC: with room for two files, a third collects the least recently
// used finished one; the daemon stops seeding it.
func TestGC(t *testing.T) {
	const size = 1 << 20
	cfg := baseConfig(t, "")
	cfg.Quota = 2*size + size/2
	cfg.GCInterval = 50 * time.Millisecond
	d := startDaemon(t, cfg)
	var origins []*origin
	for i := range 3 {
		o := newOrigin(t, genData(size, uint64(20+i)))
		origins = append(origins, o)
		out, _ := fetch(t, d, daemon.Request{URL: o.url()})
		checkFile(t, out, o.data)
	}
	waitFor(t, "the collected task to stop being seeded", 5*time.Second, func() bool {
		s := d.Stats()
		return s.SeedingTasks == 2 && s.StoreBytes <= cfg.Quota
	})
	// The first object is gone and comes from the origin again.
	before := origins[0].served.Load()
	fetch(t, d, daemon.Request{URL: origins[0].url()})
	if got := origins[0].served.Load() - before; got < size {
		t.Fatalf("refetching the collected object took %d origin bytes", got)
	}
}
