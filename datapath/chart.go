// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// Chart geometry, in SVG user units.
const (
	chartWidth  = 980
	labelRight  = 200 // right edge of the case labels
	panelWidth  = 330 // width of each bar panel
	leftPanel   = 215 // x of the throughput panel's axis
	rightPanel  = 620 // x of the CPU panel's axis
	rowHeight   = 22
	barHeight   = 14
	sectionHead = 46
)

// WriteChart draws r as an SVG: for each table (download, streaming) one
// row per case with its throughput and the measured side's CPU seconds per
// GiB (user and system stacked), and the re-measured claims underneath.
func WriteChart(w io.Writer, r *BenchReport) error {
	bw := bufio.NewWriter(w)
	sections := []struct {
		title string
		rows  []Measurement
	}{
		{"Download: file → loopback TCP (download-*: server path, client discards; receive-*: client path, server sendfile)", r.Download},
		{"Streaming: 12-byte header + 1400 bytes per UDP datagram (stream-sendfile: no header), loopback, sender side", r.Stream},
	}
	height := 70
	for _, s := range sections {
		height += sectionHead + rowHeight*len(s.rows) + 24
	}
	height += 70
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%d" y="28" font-size="18" font-weight="bold">pollen bench datapath: %s per transfer, median of %d runs</text>`+"\n",
		20, sizeLabel(r.Size), r.Runs)
	fmt.Fprintf(bw, `<rect x="%d" y="40" width="12" height="12" fill="#1f77b4"/><text x="%d" y="50">user</text>`, rightPanel, rightPanel+16)
	fmt.Fprintf(bw, `<rect x="%d" y="40" width="12" height="12" fill="#aec7e8"/><text x="%d" y="50">system</text>`, rightPanel+60, rightPanel+76)
	fmt.Fprintf(bw, `<rect x="%d" y="40" width="12" height="12" fill="#2ca02c"/><text x="%d" y="50">throughput</text>`+"\n", leftPanel, leftPanel+16)
	y := 70
	for _, s := range sections {
		y = chartSection(bw, y, s.title, s.rows)
	}
	fmt.Fprintf(bw, `<text x="20" y="%d" font-size="13">Header tax, CPU of stream-sendfile-header vs stream-sendfile: %+.0f%% (2005: +29%%)</text>`+"\n",
		y+4, 100*r.HeaderTax)
	fmt.Fprintf(bw, `<text x="20" y="%d" font-size="13">Best modern path %s vs best legacy path %s, CPU: %+.0f%% (2005 enhanced calls: −25 to −27%%)</text>`+"\n",
		y+22, html.EscapeString(r.BestModern), html.EscapeString(r.BestLegacy), 100*r.ModernVsLegacy)
	fmt.Fprintf(bw, `<text x="20" y="%d" fill="#555">Loopback on a shared 2-vCPU VM: compare ratios within this run, not absolute figures across machines.</text>`+"\n", y+42)
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

func chartSection(w io.Writer, y int, title string, rows []Measurement) int {
	fmt.Fprintf(w, `<text x="20" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", y+14, html.EscapeString(title))
	var maxTP, maxCPU float64
	for _, m := range rows {
		maxTP = math.Max(maxTP, m.Throughput()/(1<<20))
		maxCPU = math.Max(maxCPU, m.CPU())
	}
	tpScale, cpuScale := niceMax(maxTP), niceMax(maxCPU)
	top := y + sectionHead - 10
	bottom := top + rowHeight*len(rows)
	axis(w, leftPanel, top, bottom, tpScale, "throughput, MiB/s (longer is better)")
	axis(w, rightPanel, top, bottom, cpuScale, "CPU seconds per GiB, measured side (shorter is better)")
	for i, m := range rows {
		ry := top + i*rowHeight + (rowHeight-barHeight)/2
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelRight, ry+11, html.EscapeString(m.Case))
		tp := m.Throughput() / (1 << 20)
		tw := panelWidth * tp / tpScale
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#2ca02c"/>`, leftPanel, ry, tw, barHeight)
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%.0f</text>`, float64(leftPanel)+tw+4, ry+11, tp)
		uw, sw := panelWidth*m.User/cpuScale, panelWidth*m.Sys/cpuScale
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#1f77b4"/>`, rightPanel, ry, uw, barHeight)
		fmt.Fprintf(w, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#aec7e8"/>`, float64(rightPanel)+uw, ry, sw, barHeight)
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%.3g</text>`+"\n", float64(rightPanel)+uw+sw+4, ry+11, m.CPU())
	}
	return bottom + 24 + 10
}

// axis draws a vertical baseline at x, ticks along the bottom and a label.
func axis(w io.Writer, x, top, bottom int, scale float64, label string) {
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, x, top, x, bottom)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, x, bottom, x+panelWidth, bottom)
	for i := range 5 {
		v := scale * float64(i) / 4
		tx := float64(x) + panelWidth*float64(i)/4
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, tx, top, tx, bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555" font-size="10">%s</text>`, tx, bottom+12, tickLabel(v))
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" fill="#333">%s</text>`+"\n", x, top-6, html.EscapeString(label))
}

func tickLabel(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 5, 10} {
		if v <= f*p {
			return f * p
		}
	}
	return 10 * p
}

func sizeLabel(n int64) string {
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= 1<<20:
		return fmt.Sprintf("%.4g MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
