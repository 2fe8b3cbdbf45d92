// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLine(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, true)
	r := Result{Bench: "wire", Case: "rr-1B-1conn", Metric: "tps", Unit: "1/s", Value: 41234, Better: Higher}
	if err := w.Add(r.WithBaseline("tcp", 43810)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), buf.String())
	}
	want := `{"bench":"wire","case":"rr-1B-1conn","metric":"tps","unit":"1/s","value":41234,"better":"higher","baseline":"tcp","baseline_value":43810}`
	if lines[0] != want {
		t.Errorf("line 0:\n got %s\nwant %s", lines[0], want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["baseline"]; ok {
		t.Errorf("result without baseline printed a baseline field: %s", lines[1])
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, false)
	r := Result{Bench: "wire", Case: "stream-64KiB", Metric: "throughput", Unit: "MB/s", Value: 900, Better: Higher}
	if err := w.Add(r.WithBaseline("tcp", 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"stream-64KiB", "0.900", "tcp"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
