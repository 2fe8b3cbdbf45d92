// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package demo_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/demo"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfg := demo.Config{
		Peers:      3,
		Size:       8 << 20,
		OriginRate: 40 << 20,
		PeerRate:   40 << 20,
		Dir:        dir,
	}
	start := time.Now()
	res, err := demo.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("in %v:\n%s", time.Since(start), out.String())
	if !res.Verified || len(res.PerPeer) != 3 || res.FileBytes != 8<<20 {
		t.Fatalf("result %+v", res)
	}
	if res.LowerBoundSeconds <= 0 || res.AllDoneSeconds < res.LowerBoundSeconds*0.9 {
		t.Errorf("all done in %.2fs, bound %.2fs: the origin's rate limit is not applied", res.AllDoneSeconds, res.LowerBoundSeconds)
	}
	if res.OriginBytesServed < res.FileBytes || res.OriginBytesServed > res.FileBytes*2 {
		t.Errorf("origin served %d bytes for a %d-byte file", res.OriginBytesServed, res.FileBytes)
	}
	if !strings.Contains(out.String(), "every copy verified") {
		t.Errorf("report lacks the verdict:\n%s", out.String())
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Errorf("left behind in %s: %v (%v)", dir, ents, err)
	}
}

func TestLowerBound(t *testing.T) {
	cfg := demo.Config{} // defaults: origin-bound
	got := cfg.LowerBound().Seconds()
	want := float64(demo.DefaultSize) / demo.DefaultOriginRate
	if got < want*0.999 || got > want*1.001 {
		t.Errorf("bound %.3fs, want F/u_origin = %.3fs", got, want)
	}
	if got < 20 || got > 30 {
		t.Errorf("default bound %.1fs, want 20 to 30 s", got)
	}
	if err := (demo.Config{Peers: -1}).Validate(); err == nil {
		t.Error("negative peers accepted")
	}
}
