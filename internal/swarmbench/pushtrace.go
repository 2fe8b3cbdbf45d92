// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
)

// This file keeps the trace of a push round (PushConfig.TraceDir): the
// processes' debug logs and every host's sent bytes over time.

// traceInterval is the period of the links' samples.
const traceInterval = 250 * time.Millisecond

// sampleHosts appends to *s, every traceInterval, the bytes each of the
// first hosts of lab sent since the previous sample, until the returned
// stop is called. *s must not be read before stop returns.
func sampleHosts(ctx context.Context, lab *netlab.Lab, hosts int, s *[][]int64) (stop func()) {
	return sampleCounters(ctx, lab, func(last, cs []netlab.Counters) {
		row := make([]int64, min(hosts, len(cs)))
		for i := range row {
			row[i] = cs[i].TxBytes - last[i].TxBytes
		}
		*s = append(*s, row)
	})
}

// writeLinks writes the samples of sampleHosts to path as tab-separated
// columns: the sample's end in seconds from the first, then each host's
// sent Mbit/s (host 0, the pusher, first).
func writeLinks(path string, rows [][]int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "t_s")
	if len(rows) > 0 {
		for i := range rows[0] {
			fmt.Fprintf(w, "\th%d_mbit", i)
		}
	}
	fmt.Fprintln(w)
	for k, row := range rows {
		fmt.Fprintf(w, "%.2f", float64(k+1)*traceInterval.Seconds())
		for _, b := range row {
			fmt.Fprintf(w, "\t%.1f", float64(b)*8/traceInterval.Seconds()/1e6)
		}
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// keepTrace copies the logs and samples of the round with n receivers,
// run in dir, to cfg.TraceDir/n<N>. Failures are logged: the trace is a
// by-product of the round.
func keepTrace(cfg PushConfig, n int, dir string) {
	dst := filepath.Join(cfg.TraceDir, "n"+strconv.Itoa(n))
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".log") && name != "push.out" && name != "links.tsv" {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		// h3/receive.log becomes h3-receive.log.
		return copyFile(filepath.Join(dst, strings.ReplaceAll(rel, string(filepath.Separator), "-")), path)
	})
	if err != nil {
		cfg.Logger.Warn("swarmbench: push trace", "receivers", n, "err", err)
		return
	}
	s, err := summarizeTrace(dst, float64(cfg.Rate))
	if err != nil {
		cfg.Logger.Warn("swarmbench: push trace", "receivers", n, "dir", dst, "err", err)
		return
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 0, 64) }
	cfg.Logger.Info("swarmbench: push trace kept", "receivers", n, "dir", dst,
		"span", s.Span.Round(time.Millisecond), "source_done", s.SourceDone.Round(time.Millisecond),
		"pieces", s.Pieces, "failed", s.Failed,
		"worker_idle", fmt.Sprintf("%.2f", s.WorkerIdle), "uplinks", fmt.Sprintf("%.2f", s.Uplinks),
		"spread_ms", ms(s.Spread50)+"/"+ms(s.Spread90), "held_ms", ms(s.Held50)+"/"+ms(s.Held90),
		"get_ms", ms(s.Get50)+"/"+ms(s.Get90), "store_ms", ms(s.Store50)+"/"+ms(s.Store90),
		"report_ms", ms(s.Report50), "ask_ms", ms(s.Ask50), "place", s.Place.Round(time.Millisecond))
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(dst, src string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
