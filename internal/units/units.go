// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package units parses and prints the sizes and rates pollen's command line
// and config accept: sizes in B, KiB, MiB, GiB, TiB (and decimal kB, MB, GB,
// TB), rates in bit/s with kbit, Mbit, Gbit (and byte rates such as MiB/s).
// [Size] and [Rate] implement the pflag.Value interface so they can be flags.
package units

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is returned for a size or rate that cannot be parsed.
var ErrSyntax = errors.New("units: invalid syntax")

// Size is a number of bytes.
type Size int64

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseSize parses s ("256MiB", "1.5GiB", "4096") as a byte count.
func ParseSize(s string) (Size, error) {
	v, err := parse(s, sizeUnits)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return Size(v), nil
}

// String prints the size with the largest binary unit that keeps it exact to
// two decimals, e.g. "256MiB".
func (s Size) String() string {
	v := float64(s)
	for _, u := range []struct {
		name string
		f    float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if math.Abs(v) >= u.f {
			return trimFloat(v/u.f) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Set implements pflag.Value.
func (s *Size) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// Type implements pflag.Value.
func (*Size) Type() string { return "size" }

// Rate is a data rate in bytes per second. Zero means unlimited where a
// component accepts a limit.
type Rate int64

var rateUnits = map[string]float64{
	"":    1, // a bare number is bytes per second
	"bit": 1.0 / 8, "bps": 1.0 / 8,
	"kbit": 1e3 / 8, "kbps": 1e3 / 8,
	"mbit": 1e6 / 8, "mbps": 1e6 / 8,
	"gbit": 1e9 / 8, "gbps": 1e9 / 8,
	"b/s": 1, "kib/s": 1 << 10, "mib/s": 1 << 20, "gib/s": 1 << 30,
	"kb/s": 1e3, "mb/s": 1e6, "gb/s": 1e9,
}

// ParseRate parses s ("50Mbit", "1Gbit", "100MiB/s") as bytes per second.
// A bare number is bytes per second.
func ParseRate(s string) (Rate, error) {
	v, err := parse(s, rateUnits)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	return Rate(v), nil
}

// String prints the rate in bit/s units, e.g. "50Mbit".
func (r Rate) String() string {
	bits := float64(r) * 8
	switch {
	case r == 0:
		return "0"
	case bits >= 1e9:
		return trimFloat(bits/1e9) + "Gbit"
	case bits >= 1e6:
		return trimFloat(bits/1e6) + "Mbit"
	case bits >= 1e3:
		return trimFloat(bits/1e3) + "kbit"
	default:
		return trimFloat(bits) + "bit"
	}
}

// Set implements pflag.Value.
func (r *Rate) Set(v string) error {
	n, err := ParseRate(v)
	if err != nil {
		return err
	}
	*r = n
	return nil
}

// Type implements pflag.Value.
func (*Rate) Type() string { return "rate" }

func parse(s string, table map[string]float64) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.'
	})
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	f, ok := table[unit]
	if !ok || num == "" {
		return 0, ErrSyntax
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, ErrSyntax
	}
	out := v * f
	if out > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: too large", ErrSyntax)
	}
	return int64(math.Round(out)), nil
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
