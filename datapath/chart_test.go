// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestWriteChart(t *testing.T) {
	r := &BenchReport{
		Size: 1 << 30, Runs: 3,
		Download: []Measurement{
			{Case: "download-sendfile", Bytes: 1 << 30, Seconds: 0.5, User: 0.01, Sys: 0.1},
			{Case: "download-readwrite-32k", Bytes: 1 << 30, Seconds: 0.8, User: 0.02, Sys: 0.5},
		},
		Stream: []Measurement{
			{Case: "stream-gso", Bytes: 1 << 30, Seconds: 1.2, Sys: 0.9},
			{Case: "stream-<copy>", Bytes: 1 << 30, Seconds: 6, User: 0.3, Sys: 3.3},
		},
		HeaderTax: 0.27, BestLegacy: "stream-writev", BestModern: "stream-gso", ModernVsLegacy: -0.7,
	}
	var b strings.Builder
	if err := WriteChart(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// Well-formed XML, so browsers and rsvg render it.
	d := xml.NewDecoder(strings.NewReader(out))
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, out)
		}
	}
	for _, want := range []string{"download-sendfile", "stream-&lt;copy&gt;", "+27%", "-70%", "1 GiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestNiceMax(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.7: 1, 1.3: 2, 3: 5, 7: 10, 2100: 5000, 0.04: 0.05} {
		if got := niceMax(v); got != want {
			t.Errorf("niceMax(%v) = %v, want %v", v, got, want)
		}
	}
}
