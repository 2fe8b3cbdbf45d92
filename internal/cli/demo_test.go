// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDemoJSON(t *testing.T) {
	code, stdout, stderr := run(t, "demo", "--peers", "3", "--size", "8MiB", "--json",
		"--origin-rate", "400Mbit", "--peer-rate", "400Mbit")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var res struct {
		Peers             *int     `json:"peers"`
		FileBytes         *int64   `json:"file_bytes"`
		AllDoneSeconds    *float64 `json:"all_done_seconds"`
		LowerBoundSeconds *float64 `json:"lower_bound_seconds"`
		OriginBytesServed *int64   `json:"origin_bytes_served"`
		Verified          *bool    `json:"verified"`
		PerPeer           []struct {
			Seconds  float64 `json:"seconds"`
			Verified bool    `json:"verified"`
		} `json:"per_peer"`
	}
	if strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Errorf("want one JSON line, got:\n%s", stdout)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if res.Peers == nil || res.FileBytes == nil || res.AllDoneSeconds == nil || res.LowerBoundSeconds == nil ||
		res.OriginBytesServed == nil || res.Verified == nil {
		t.Fatalf("a required field is missing: %s", stdout)
	}
	if *res.Peers != 3 || *res.FileBytes != 8<<20 || !*res.Verified || len(res.PerPeer) != 3 {
		t.Errorf("bad result: %s", stdout)
	}
	// 8 MiB at 400 Mbit/s from the origin: 0.168 s.
	if b := *res.LowerBoundSeconds; b < 0.16 || b > 0.18 {
		t.Errorf("lower bound %.3fs, want 0.168s", b)
	}
	if *res.AllDoneSeconds < *res.LowerBoundSeconds || *res.OriginBytesServed < 8<<20 {
		t.Errorf("faster than the bound or less than the file served: %s", stdout)
	}
	for i, p := range res.PerPeer {
		if !p.Verified || p.Seconds <= 0 {
			t.Errorf("peer %d: %+v", i+1, p)
		}
	}
}

func TestDemoText(t *testing.T) {
	code, stdout, stderr := run(t, "demo", "--peers", "2", "--size", "1MiB", "--origin-rate", "1Gbit")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"lower bound", "origin served", "every copy verified"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--peers", "x"},
		{"demo", "--size", "12 parsecs"},
		{"demo", "extra"},
		{"demo", "--peers", "0"},
		{"get"},
		{"get", "a", "b"},
		{"get", "--digest", "md5:00", "file:///x"},
		{"scheduler", "--log-level", "loud"},
		{"daemon", "--upload-rate", "fast"},
	} {
		code, _, stderr := run(t, args...)
		if code != 2 || !strings.HasPrefix(stderr, "pollen: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and one line", args, code, stderr)
		}
	}
}
