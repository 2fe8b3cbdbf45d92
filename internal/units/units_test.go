// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package units

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"4096", 4096},
		{"1KiB", 1024},
		{"256MiB", 256 << 20},
		{"1.5GiB", 3 << 29},
		{"1GB", 1e9},
		{" 64 kib ", 64 << 10},
		{"2M", 2 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1KiB", "12furlongs", "1..2MiB", "99999999999TiB"} {
		if _, err := ParseSize(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseSize(%q) error = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rate
	}{
		{"0", 0},
		{"50Mbit", 50e6 / 8},
		{"1Gbit", 1e9 / 8},
		{"800kbit", 100e3},
		{"100MiB/s", 100 << 20},
		{"1000", 1000},
	} {
		got, err := ParseRate(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "fast", "-5Mbit", "10 parsecs"} {
		if _, err := ParseRate(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseRate(%q) error = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Size{0, 1, 1023, 1 << 10, 256 << 20, 3 << 29} {
		got, err := ParseSize(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s.String(), got, err, s)
		}
	}
	for _, r := range []Rate{0, 50e6 / 8, 1e9 / 8, 125} {
		got, err := ParseRate(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", r.String(), got, err, r)
		}
	}
}
