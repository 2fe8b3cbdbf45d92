// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/wirebench"
)

// When `pollen bench wire` re-executes this test binary as its server
// process, the binary must behave like pollen: run the command line it was
// given instead of the tests. An init function (not TestMain) keeps the
// package's TestMain free for others.
func init() {
	if wirebench.IsChild() {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

func TestBenchWireJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"bench", "wire", "--duration", "200ms", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	seen := map[string]bool{}
	for line := range strings.Lines(stdout.String()) {
		r := decodeBenchLine(t, line)
		if r.Bench != "wire" || r.Value <= 0 || r.Better != "higher" || r.Baseline != "tcp" || r.BaselineValue == nil || *r.BaselineValue <= 0 {
			t.Errorf("bad result line %s", line)
		}
		if (r.Metric == "tps") != (r.Unit == "1/s") || (r.Metric == "throughput") != (r.Unit == "MB/s") {
			t.Errorf("metric %q with unit %q", r.Metric, r.Unit)
		}
		seen[r.Case] = true
	}
	for _, c := range wirebench.DefaultCases() {
		for _, name := range []string{c.Name, c.Name + "-pinned"} {
			if !seen[name] {
				t.Errorf("case %s missing from the output:\n%s", name, stdout.String())
			}
		}
	}
}

func TestBenchWireBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "wire", "--pin", "sometimes"},
		{"bench", "wire", "--case", "rr-3B-7conn"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(t.Context(), args, &stdout, &stderr); code == 0 || !strings.HasPrefix(stderr.String(), "pollen: ") {
			t.Errorf("%v: exit %d, stderr %q; want a failure with a reason", args, code, stderr.String())
		}
	}
}
