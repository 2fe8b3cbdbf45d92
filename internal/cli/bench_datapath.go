// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pollen-dev/pollen/datapath"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/units"
)

// The assessment's claims, as ratios: a per-packet header costs 1.29x the
// CPU, and its enhanced calls cost 0.73x to 0.75x the best existing path.
const (
	claimHeaderTax = 1.29
	claimModern    = 0.73
)

func newBenchDatapathCmd() *cobra.Command {
	var (
		size   = units.Size(1 << 30)
		runs   int
		asJSON bool
		chart  string
		dir    string
	)
	cmd := &cobra.Command{
		Use:   "datapath",
		Short: "Measure download and streaming data paths: throughput, CPU, system calls, copies",
		Long: `datapath moves a --size file over loopback by every path package datapath
has: read+write, mmap+write, sendfile and splice from the server; discard,
read+write and splice into a file on the client; and for streaming, 1400-byte
UDP datagrams with a 12-byte header by copy, writev, sendmmsg, UDP GSO and
sendfile (with and without the header). Each row gives throughput, CPU
seconds per GiB of the side under test (user, system; per-thread getrusage),
system calls per GiB (counted) and copies per byte (analytic). It
re-measures the 2005 assessment's claims as ratios in the same run.
Figures are medians over --runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if chart != "" && !strings.EqualFold(filepath.Ext(chart), ".svg") {
				return fmt.Errorf("--chart %s: only SVG charts are written (name the file .svg)", chart)
			}
			cfg := datapath.BenchConfig{Size: int64(size), Runs: runs, Dir: dir}
			if isTerminal(cmd.ErrOrStderr()) {
				cfg.Progress = func(line string) { fmt.Fprintf(cmd.ErrOrStderr(), "\r\033[K%s", line) }
			}
			rep, err := datapath.Bench(cmd.Context(), cfg)
			if cfg.Progress != nil {
				fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
			}
			if err != nil {
				return err
			}
			if chart != "" {
				if err := writeChartFile(chart, rep); err != nil {
					return err
				}
			}
			if asJSON {
				return datapathJSON(cmd.OutOrStdout(), rep)
			}
			return datapathTables(cmd.OutOrStdout(), rep)
		},
	}
	f := cmd.Flags()
	f.Var(&size, "size", "bytes per transfer (units: KiB, MiB, GiB)")
	f.IntVar(&runs, "runs", 3, "repetitions per case; figures are medians")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per line")
	f.StringVar(&chart, "chart", "", "also write an SVG chart to `FILE`")
	f.StringVar(&dir, "dir", "", "directory for the source and sink files (default: the system temp dir)")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeChartFile(path string, rep *datapath.BenchReport) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := datapath.WriteChart(f, rep); err != nil {
		_ = f.Close()
		return fmt.Errorf("chart: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// datapathBaseline names the row each row's CPU is compared with: the
// plain read+write path of its side, or for streaming the best path the
// assessment had.
func datapathBaseline(rep *datapath.BenchReport, m datapath.Measurement) string {
	switch {
	case strings.HasPrefix(m.Case, "download-"):
		return "download-readwrite-32k"
	case strings.HasPrefix(m.Case, "receive-"):
		return "receive-readwrite-file"
	default:
		return rep.BestLegacy
	}
}

func datapathJSON(w io.Writer, rep *datapath.BenchReport) error {
	out := report.NewWriter(w, true)
	for _, m := range append(append([]datapath.Measurement(nil), rep.Download...), rep.Stream...) {
		r := func(metric, unit string, v float64, better report.Better) report.Result {
			return report.Result{Bench: "datapath", Case: m.Case, Metric: metric, Unit: unit, Value: v, Better: better}
		}
		cpu := r("cpu_s_per_gib", "s/GiB", m.CPU(), report.Lower)
		if b, ok := rep.Find(datapathBaseline(rep, m)); ok && b.Case != m.Case {
			cpu = cpu.WithBaseline(b.Case, b.CPU())
		}
		rows := []report.Result{
			r("throughput", "MiB/s", m.Throughput()/(1<<20), report.Higher),
			cpu,
			r("cpu_user_s_per_gib", "s/GiB", m.User, report.Lower),
			r("cpu_sys_s_per_gib", "s/GiB", m.Sys, report.Lower),
			r("peer_cpu_s_per_gib", "s/GiB", m.Peer, report.Lower),
			r("syscalls_per_gib", "1/GiB", m.Syscalls, report.Lower),
			r("copies_per_byte", "1/B", m.Copies, report.Lower),
		}
		if m.Side == "sender" {
			rows = append(rows, r("delivered", "ratio", m.Delivered, report.Higher))
		}
		for _, row := range rows {
			if err := out.Add(row); err != nil {
				return err
			}
		}
	}
	for _, c := range datapathClaims(rep) {
		if err := out.Add(c); err != nil {
			return err
		}
	}
	return nil
}

// datapathClaims are the assessment's two claims re-measured, each beside
// the 2005 figure as its baseline.
func datapathClaims(rep *datapath.BenchReport) []report.Result {
	return []report.Result{
		report.Result{
			Bench: "datapath", Case: "claim-header-tax", Metric: "cpu_ratio", Unit: "x",
			Value: 1 + rep.HeaderTax, Better: report.Lower,
		}.WithBaseline("2005-assessment", claimHeaderTax),
		report.Result{
			Bench: "datapath", Case: "claim-modern-vs-legacy", Metric: "cpu_ratio", Unit: "x",
			Value: 1 + rep.ModernVsLegacy, Better: report.Lower,
		}.WithBaseline("2005-assessment", claimModern),
	}
}

func datapathTables(w io.Writer, rep *datapath.BenchReport) error {
	fmt.Fprintf(w, "datapath: %s per transfer over loopback, median of %d runs; CPU is the measured side's, per GiB\n\n",
		units.Size(rep.Size), rep.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "download case\tside\tMiB/s\tCPU s/GiB\tuser\tsys\tpeer CPU\tsyscalls/GiB\tcopies/B\t")
	for _, m := range rep.Download {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.2f\t\n",
			m.Case, m.Side, m.Throughput()/(1<<20), m.CPU(), m.User, m.Sys, m.Peer, m.Syscalls, m.Copies)
	}
	fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t")
	fmt.Fprintln(tw, "streaming case\tside\tMiB/s\tCPU s/GiB\tuser\tsys\tpeer CPU\tsyscalls/GiB\tcopies/B\tdelivered\t")
	for _, m := range rep.Stream {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.2f\t%.3f\t\n",
			m.Case, m.Side, m.Throughput()/(1<<20), m.CPU(), m.User, m.Sys, m.Peer, m.Syscalls, m.Copies, m.Delivered)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nheader tax: stream-sendfile-header costs %.2fx the CPU of stream-sendfile (2005: %.2fx)\n",
		1+rep.HeaderTax, claimHeaderTax)
	_, err := fmt.Fprintf(w, "best modern vs best legacy: %s costs %.2fx the CPU of %s (2005 enhanced calls: %.2fx)\n",
		rep.BestModern, 1+rep.ModernVsLegacy, rep.BestLegacy, claimModern)
	return err
}
