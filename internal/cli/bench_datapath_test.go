// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchDatapathJSON(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "datapath.svg")
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{
		"bench", "datapath", "--size", "8MiB", "--runs", "1", "--json",
		"--dir", t.TempDir(), "--chart", chart,
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	seen := map[string]bool{}
	for line := range strings.Lines(stdout.String()) {
		var r struct {
			Bench         string   `json:"bench"`
			Case          string   `json:"case"`
			Metric        string   `json:"metric"`
			Unit          string   `json:"unit"`
			Value         *float64 `json:"value"`
			Better        string   `json:"better"`
			Baseline      string   `json:"baseline"`
			BaselineValue *float64 `json:"baseline_value"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if r.Bench != "datapath" || r.Case == "" || r.Metric == "" || r.Unit == "" || r.Value == nil ||
			(r.Better != "higher" && r.Better != "lower") || (r.Baseline == "") != (r.BaselineValue == nil) {
			t.Fatalf("incomplete line %q", line)
		}
		seen[r.Case+" "+r.Metric] = true
	}
	var want []string
	for _, c := range []string{
		"download-readwrite-32k", "download-readwrite-1m", "download-mmap", "download-sendfile", "download-splice",
		"receive-discard", "receive-readwrite-file", "receive-splice-file",
		"stream-sendfile", "stream-sendfile-header", "stream-copy", "stream-writev", "stream-sendmmsg", "stream-gso",
	} {
		for _, m := range []string{"throughput", "cpu_s_per_gib", "cpu_user_s_per_gib", "cpu_sys_s_per_gib", "syscalls_per_gib", "copies_per_byte"} {
			want = append(want, c+" "+m)
		}
	}
	want = append(want, "stream-gso delivered", "claim-header-tax cpu_ratio", "claim-modern-vs-legacy cpu_ratio")
	for _, w := range want {
		if !seen[w] {
			t.Errorf("missing %s", w)
		}
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("stream-gso")) {
		t.Fatalf("chart: %v, %d bytes", err, len(svg))
	}
}

func TestBenchDatapathTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"bench", "datapath", "--size", "2MiB", "--runs", "1", "--dir", t.TempDir()}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"download case", "streaming case", "download-sendfile", "stream-gso", "header tax:", "best modern vs best legacy:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	if code := Run(t.Context(), []string{"bench", "datapath", "--chart", "x.png"}, &stdout, &stderr); code == 0 {
		t.Error("--chart x.png accepted; only SVG is written")
	}
}
