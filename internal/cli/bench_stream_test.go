// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestBenchStreamJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"bench", "stream", "--json", "--peers", "2", "--size", "4MiB", "--piece-size", "256KiB", "--window", "4", "--runs", "1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	seen := map[string]float64{}
	for line := range strings.Lines(stdout.String()) {
		r := decodeBenchLine(t, line)
		if r.Bench != "stream" || r.Unit == "" || r.Baseline != "plain-get" || r.BaselineValue == nil {
			t.Errorf("bad result line %s", line)
		}
		seen[r.Metric] = r.Value
		if r.Metric == "disk-writes" && *r.BaselineValue < 4 {
			t.Errorf("plain get wrote %v MiB for 2 copies of 4 MiB: the disk figure is blind", *r.BaselineValue)
		}
	}
	for _, m := range []string{"time-to-first-byte", "all-done", "throughput-per-peer", "peak-rss", "peak-heap", "disk-writes", "origin-copies"} {
		if _, ok := seen[m]; !ok {
			t.Errorf("%s missing from the output:\n%s", m, stdout.String())
		}
	}
	if seen["disk-writes"] != 0 {
		t.Errorf("stream mode wrote %v MiB to disk", seen["disk-writes"])
	}
	if v := seen["throughput-per-peer"]; v <= 0 {
		t.Errorf("throughput %v", v)
	}
}

func TestBenchStreamBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"bench", "stream", "--peers", "-1"}, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "pollen: ") {
		t.Errorf("exit %d, stderr %q; want a usage error", code, stderr.String())
	}
}
