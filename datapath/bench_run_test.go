// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"context"
	"errors"
	"testing"
)

func TestBench(t *testing.T) {
	linuxOnly(t)
	var lines int
	rep, err := Bench(t.Context(), BenchConfig{Size: 4 << 20, Runs: 1, Dir: t.TempDir(), Progress: func(string) { lines++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Download) != len(Uploads())+len(Downloads()) || len(rep.Stream) != len(Streams()) || lines == 0 {
		t.Fatalf("%d download and %d stream rows, %d progress lines", len(rep.Download), len(rep.Stream), lines)
	}
	for _, m := range append(rep.Download, rep.Stream...) {
		t.Logf("%-24s %6.0f MiB/s  cpu %.3f s/GiB (user %.3f)  %8.0f calls/GiB  delivered %.3f",
			m.Case, m.Throughput()/(1<<20), m.CPU(), m.User, m.Syscalls, m.Delivered)
		if m.Throughput() <= 0 || m.Syscalls <= 0 || m.Bytes != 4<<20 {
			t.Errorf("%s: empty measurement %+v", m.Case, m)
		}
	}
	if rep.BestLegacy == "" || rep.BestModern == "" || rep.HeaderTax == 0 || rep.ModernVsLegacy == 0 {
		t.Errorf("claims not computed: %+v", rep)
	}
	t.Logf("header tax %+.2f, %s vs %s %+.2f", rep.HeaderTax, rep.BestModern, rep.BestLegacy, rep.ModernVsLegacy)
}

func TestBenchConfig(t *testing.T) {
	if _, err := Bench(t.Context(), BenchConfig{Runs: -1}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("negative runs: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Bench(ctx, BenchConfig{Size: 1 << 20, Dir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
