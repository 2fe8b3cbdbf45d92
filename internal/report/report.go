// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package report formats the results of pollen's benchmarks: one JSON object
// per line for machines (the layout SPEC.md fixes for every `pollen bench`
// command) or an aligned table for people. It also holds the small statistics
// the benchmarks share (median of repeated runs).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Better says which direction of a metric is an improvement.
type Better string

// The two directions.
const (
	Higher Better = "higher"
	Lower  Better = "lower"
)

// Result is one measured figure, optionally beside the baseline measured in
// the same run.
type Result struct {
	Bench  string  `json:"bench"`
	Case   string  `json:"case"`
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Value  float64 `json:"value"`
	Better Better  `json:"better"`
	// Baseline names what Value is compared with ("tcp", "yamux"); empty when
	// no baseline was measured.
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue *float64 `json:"baseline_value,omitempty"`
}

// WithBaseline returns r compared with the named baseline value.
func (r Result) WithBaseline(name string, v float64) Result {
	r.Baseline = name
	r.BaselineValue = &v
	return r
}

// Ratio returns Value/BaselineValue, or 0 without a baseline.
func (r Result) Ratio() float64 {
	if r.BaselineValue == nil || *r.BaselineValue == 0 {
		return 0
	}
	return r.Value / *r.BaselineValue
}

// Writer prints results as JSON lines or as a table. A Writer is not safe
// for concurrent use.
type Writer struct {
	w    io.Writer
	json bool
	rows []Result
}

// NewWriter returns a Writer that prints to w; asJSON selects JSON lines.
func NewWriter(w io.Writer, asJSON bool) *Writer {
	return &Writer{w: w, json: asJSON}
}

// Add records r. In JSON mode it is printed at once so long runs stream.
func (w *Writer) Add(r Result) error {
	if w.json {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("report: encode result: %w", err)
		}
		_, err = w.w.Write(append(b, '\n'))
		return err
	}
	w.rows = append(w.rows, r)
	return nil
}

// Flush prints the table of results added since the last Flush. It does
// nothing in JSON mode.
func (w *Writer) Flush() error {
	if w.json || len(w.rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bench\tcase\tmetric\tvalue\tunit\tbaseline\tbaseline value\tratio\t")
	for _, r := range w.rows {
		base, bv, ratio := "-", "-", "-"
		if r.BaselineValue != nil {
			base = r.Baseline
			bv = FormatFloat(*r.BaselineValue)
			ratio = strconv.FormatFloat(r.Ratio(), 'f', 3, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Bench, r.Case, r.Metric, FormatFloat(r.Value), r.Unit, base, bv, ratio)
	}
	w.rows = w.rows[:0]
	return tw.Flush()
}

// FormatFloat prints v with about four significant digits.
func FormatFloat(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v <= -1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
