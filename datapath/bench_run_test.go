// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"context"
	"testing"
)

func TestBenchSmoke(t *testing.T) {
	rep, err := Bench(context.Background(), BenchConfig{Size: 64 << 20, Runs: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append(rep.Download, rep.Stream...) {
		t.Logf("%-24s %8.0f MiB/s cpu %.3f (u %.3f s %.3f) peer %.3f sys/GiB %.0f copies %.2f deliv %.3f", m.Case, m.Throughput()/(1<<20), m.CPU(), m.User, m.Sys, m.Peer, m.Syscalls, m.Copies, m.Delivered)
	}
	t.Logf("tax %.3f legacy %s modern %s %.3f", rep.HeaderTax, rep.BestLegacy, rep.BestModern, rep.ModernVsLegacy)
}
