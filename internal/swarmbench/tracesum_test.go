// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"testing"
	"time"
)

// TestSummarizeTrace sums up a small hand-made trace (testdata/pushtrace:
// one piece from the pusher to receiver 1, then from 1 to 2) and checks
// every figure against the values worked out by hand.
func TestSummarizeTrace(t *testing.T) {
	s, err := summarizeTrace("testdata/pushtrace", 50e6/8)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := traceSummary{
		Span: 700 * ms, SourceDone: 400 * ms, Pieces: 2, Failed: 1,
		Spread50: 10 * ms, Spread90: 10 * ms, Held50: 290 * ms, Held90: 290 * ms,
		Get50: 280 * ms, Get90: 280 * ms, Store50: 10 * ms, Store90: 10 * ms,
		Report50: 40 * ms, Ask50: 50 * ms,
		WorkerIdle: 100.0 / 690, // idle 100ms; busy 300ms + 280ms + 10ms
		Place:      130 * ms,
		Uplinks:    10.0 / 100, // one sample over 1 Mbit/s: 10 of 2 × 50
	}
	if s != want {
		t.Fatalf("summary\n got %+v\nwant %+v", s, want)
	}
}

// TestParseLogLine reads slog's text form: quoted values with escapes,
// a repeated key keeping its last value, and lines that are not records.
func TestParseLogLine(t *testing.T) {
	l, ok := parseLogLine(`time=2026-11-21T20:00:00.5Z level=DEBUG msg="a b" name="x \"y\" z" from=p from=q n=3`)
	if !ok {
		t.Fatal("not parsed")
	}
	if l.msg != "a b" || l.attr["name"] != `x "y" z` || l.attr["from"] != "q" || l.attr["n"] != "3" ||
		!l.t.Equal(time.Date(2026, 11, 21, 20, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("parsed %+v", l)
	}
	for _, s := range []string{"", "RECEIVER FILE", "time=yesterday msg=x"} {
		if l, ok := parseLogLine(s); ok {
			t.Errorf("%q: parsed as %+v", s, l)
		}
	}
	// A line cut inside a quoted value keeps what there is.
	if l, ok := parseLogLine(`time=2026-11-21T20:00:00Z msg="cut sh`); !ok || l.msg != "cut sh" {
		t.Errorf("cut line: %+v, %v", l, ok)
	}
}

// FuzzParseLogLine feeds parseLogLine arbitrary lines: it never panics,
// and a record it accepts has a time and the msg attribute as its message.
// Seeds: testdata/fuzz/FuzzParseLogLine.
func FuzzParseLogLine(f *testing.F) {
	f.Add(`time=2026-11-21T20:00:00.5Z level=DEBUG msg="piece done" piece=3 held=12ms`)
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := parseLogLine(s)
		if !ok {
			return
		}
		if l.t.IsZero() || l.msg != l.attr["msg"] {
			t.Fatalf("%q: parsed as %+v", s, l)
		}
	})
}
