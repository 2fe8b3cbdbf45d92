// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msgbench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/report"
)

func TestFit(t *testing.T) {
	a, b, err := Fit([]float64{64, 1024, 4096}, []float64{10 + 64*0.5, 10 + 1024*0.5, 10 + 4096*0.5})
	if err != nil || math.Abs(a-10) > 1e-9 || math.Abs(b-0.5) > 1e-12 {
		t.Fatalf("Fit = %v, %v, %v", a, b, err)
	}
	if _, _, err := Fit([]float64{1}, []float64{1}); err == nil {
		t.Error("Fit of one point succeeded")
	}
}

func TestRunInProcess(t *testing.T) {
	var rs []report.Result
	err := Run(t.Context(), Options{Duration: 2 * time.Millisecond, Runs: 1, Sizes: []int{32, 64, 4096, MaxSize}},
		func(r report.Result) error { rs = append(rs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{}
	for _, r := range rs {
		cases[r.Case] = true
		if r.Bench != "msg" || math.IsNaN(r.Value) || (!strings.HasPrefix(r.Case, "fit-") && !strings.HasPrefix(r.Case, "overhead-") && !strings.HasPrefix(r.Case, "m2-") && r.Value <= 0) {
			t.Errorf("bad result %+v", r)
		}
	}
	for _, c := range []string{
		"penalty-tcp-64B", "fit-tcp", "fit-unix", "srr-tcp-32B", "srr-unix-4KiB", "srr-inproc-32B",
		"movefrom-tcp-4KiB", "movefrom-inproc-64B", "m1-tcp-vs-inproc-32B", "m2-overhead-32B", "m3-page-read-4KiB", "overhead-tcp-64B",
		"movefrom-tcp-4MiB", "movefrom-unix-4MiB", "penalty-tcp-4MiB",
	} {
		if !cases[c] {
			t.Errorf("case %s missing; have %s", c, strings.Join(keys(cases), " "))
		}
	}
	// Messages are bounded: no Send/Receive/Reply beyond MaxMessage.
	for _, c := range []string{"srr-tcp-4MiB", "srr-inproc-4MiB", "overhead-unix-4MiB"} {
		if cases[c] {
			t.Errorf("case %s measured", c)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
