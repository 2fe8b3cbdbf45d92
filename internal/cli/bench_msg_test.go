// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/msgbench"
)

// When `pollen bench msg` re-executes this test binary as its server
// process, the binary runs the command line it was given.
func init() {
	if msgbench.IsChild() {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

func TestBenchMsgJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"bench", "msg", "--json", "--duration", "2ms", "--runs", "1", "--sizes", "32,64,1024,1048576"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	seen := map[string]bool{}
	for line := range strings.Lines(stdout.String()) {
		r := decodeBenchLine(t, line)
		if r.Bench != "msg" || r.Unit == "" || (r.Better != "lower" && r.Better != "higher") {
			t.Errorf("bad result line %s", line)
		}
		if r.Baseline != "" && (r.BaselineValue == nil || *r.BaselineValue <= 0) {
			t.Errorf("baseline without a value: %s", line)
		}
		seen[r.Case+"/"+r.Metric] = true
	}
	for _, c := range []string{
		"penalty-tcp-1MiB/half-rtt", "fit-tcp/fixed-cost", "fit-tcp/per-byte", "fit-unix/per-byte",
		"srr-tcp-32B/latency", "srr-unix-32B/latency", "srr-inproc-32B/latency", "overhead-tcp-1KiB/above-2P",
		"movefrom-tcp-1MiB/throughput", "movefrom-unix-1MiB/throughput", "movefrom-inproc-1MiB/throughput",
		"m1-tcp-vs-inproc-32B/ratio", "m2-overhead-32B/srr-local-2P", "m3-page-read-512B/latency",
	} {
		if !seen[c] {
			t.Errorf("%s missing from the output:\n%s", c, stdout.String())
		}
	}
}

func TestBenchMsgBadSizes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(t.Context(), []string{"bench", "msg", "--inproc", "--sizes", "0"}, &stdout, &stderr); code == 0 || !strings.HasPrefix(stderr.String(), "pollen: ") {
		t.Errorf("exit %d, stderr %q; want a failure with a reason", code, stderr.String())
	}
}
