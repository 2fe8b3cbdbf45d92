// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file sums up the trace of a push round (see keepTrace): where the
// pieces' time went, from the scheduler's and the receivers' debug logs,
// and how busy the receivers' uplinks were, from links.tsv.

// traceSummary is what one push round's trace shows. Durations are
// medians (p50) and 90th percentiles (p90) over pieces or messages.
type traceSummary struct {
	// Span runs from the scheduler's first assignment to its last
	// reported piece; SourceDone from the first assignment until the last
	// piece any receiver got from the pusher was reported.
	Span, SourceDone time.Duration
	// Pieces is the number of pieces the receivers fetched; Failed the
	// fetches from a parent that failed.
	Pieces, Failed int
	// Spread50 and Spread90: from a piece's first report until the
	// scheduler first assigned it from a receiver.
	Spread50, Spread90 time.Duration
	// Held50 and Held90: how long an assignment from a receiver held its
	// parent's upload slot at the scheduler (assigned until reported).
	Held50, Held90 time.Duration
	// Get50 and Get90: a GetPiece round trip, the bytes included.
	Get50, Get90 time.Duration
	// Store50 and Store90: hashing, writing and publishing a piece from
	// a parent.
	Store50, Store90 time.Duration
	// Report50 and Ask50: round trips of a PieceDone report and of a
	// RequestPieces (parked time included).
	Report50, Ask50 time.Duration
	// WorkerIdle is the share of the fetch workers' time spent waiting
	// for a job.
	WorkerIdle float64
	// Place is the longest placement of the file (copy or link, commit).
	Place time.Duration
	// Uplinks is the receivers' summed sent rate over the samples in which
	// any receiver sent, over the sum of their links' rates.
	Uplinks float64
}

// logLine is one record of slog's text handler: its time, message and
// attributes (a repeated key keeps its last value).
type logLine struct {
	t    time.Time
	msg  string
	attr map[string]string
}

// parseLogLine reads a line of slog's text handler; ok is false for
// anything else (a summary table, a panic).
func parseLogLine(s string) (logLine, bool) {
	if !strings.HasPrefix(s, "time=") {
		return logLine{}, false
	}
	l := logLine{attr: map[string]string{}}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			// A quoted value ends at the first unescaped quote.
			end := 1
			for end < len(rest) && (rest[end] != '"' || rest[end-1] == '\\') {
				end++
			}
			if uq, err := strconv.Unquote(rest[:min(end+1, len(rest))]); err == nil {
				v = uq
			} else {
				v = rest[1:min(end, len(rest))]
			}
			rest = rest[min(end+1, len(rest)):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		l.attr[k] = v
		s = strings.TrimLeft(rest, " ")
	}
	t, err := time.Parse(time.RFC3339Nano, l.attr["time"])
	if err != nil {
		return logLine{}, false
	}
	l.t, l.msg = t, l.attr["msg"]
	return l, true
}

// readLog returns the records of the log at path.
func readLog(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l, ok := parseLogLine(sc.Text()); ok {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// dur reads attribute k of l as a time.Duration (slog's text form), 0 if
// it has none.
func (l logLine) dur(k string) time.Duration {
	d, _ := time.ParseDuration(l.attr[k])
	return d
}

// summarizeTrace sums up the trace kept in dir: push.out (the pusher's
// log with its scheduler's), h*-receive.log and links.tsv. rate is each
// link's rate in bytes/s.
func summarizeTrace(dir string, rate float64) (traceSummary, error) {
	var s traceSummary
	pusher, err := readLog(filepath.Join(dir, "push.out"))
	if err != nil {
		return s, err
	}
	var (
		first, last time.Time
		reported    = map[string]time.Time{} // piece → first report
		peerAssign  = map[string]time.Time{} // piece → first assignment from a receiver
		fromSource  = map[string]bool{}      // piece "@" child → assigned from the source
		held        []time.Duration
		sourceDone  time.Time
	)
	for _, l := range pusher {
		p := l.attr["piece"]
		switch l.msg {
		case "assign":
			if first.IsZero() {
				first = l.t
			}
			if l.attr["from"] == "source" {
				fromSource[p+"@"+l.attr["child"]] = true
			} else if _, ok := peerAssign[p]; !ok {
				peerAssign[p] = l.t
			}
		case "piece done":
			last = l.t
			if _, ok := reported[p]; !ok {
				reported[p] = l.t
			}
			if fromSource[p+"@"+l.attr["peer"]] {
				sourceDone = l.t
			} else {
				held = append(held, l.dur("held"))
			}
		}
	}
	if first.IsZero() || last.IsZero() {
		return s, fmt.Errorf("swarmbench: trace %s: no assignments or reports in push.out (not run at debug level?)", dir)
	}
	s.Span, s.SourceDone = last.Sub(first), sourceDone.Sub(first)
	var spread []time.Duration
	for p, at := range peerAssign {
		if r, ok := reported[p]; ok && !at.Before(r) {
			spread = append(spread, at.Sub(r))
		}
	}
	s.Spread50, s.Spread90 = pct(spread, 50), pct(spread, 90)
	s.Held50, s.Held90 = pct(held, 50), pct(held, 90)

	logs, err := filepath.Glob(filepath.Join(dir, "h*-receive.log"))
	if err != nil {
		return s, err
	}
	var gets, stores, reports, asks []time.Duration
	var idle, busy time.Duration
	for _, path := range logs {
		lines, err := readLog(path)
		if err != nil {
			return s, err
		}
		for _, l := range lines {
			switch l.msg {
			case "daemon: piece fetched":
				s.Pieces++
				idle += l.dur("idle")
				busy += l.dur("rate") + l.dur("get") + l.dur("store")
				if l.attr["from"] != "source" { // a source fetch stores as it reads
					gets = append(gets, l.dur("get"))
					stores = append(stores, l.dur("store"))
				}
			case "daemon: piece from parent failed":
				s.Failed++
			case "daemon: pieces reported":
				reports = append(reports, l.dur("rtt"))
			case "daemon: schedule":
				if _, ok := l.attr["rtt"]; ok {
					asks = append(asks, l.dur("rtt"))
				}
			case "push: placement":
				s.Place = max(s.Place, l.dur("copy")+l.dur("commit"))
			}
		}
	}
	if idle+busy > 0 {
		s.WorkerIdle = float64(idle) / float64(idle+busy)
	}
	s.Get50, s.Get90 = pct(gets, 50), pct(gets, 90)
	s.Store50, s.Store90 = pct(stores, 50), pct(stores, 90)
	s.Report50, s.Ask50 = pct(reports, 50), pct(asks, 50)
	s.Uplinks, err = uplinkShare(filepath.Join(dir, "links.tsv"), rate)
	return s, err
}

// uplinkShare reads links.tsv (see writeLinks) and returns the receivers'
// summed sent rate over the samples in which any of them sent more than
// 1 Mbit/s, as a share of their links' summed rate (rate bytes/s each).
func uplinkShare(path string, rate float64) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var sum float64
	var n, receivers int
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 3 {
			continue
		}
		receivers = len(f) - 2
		var row float64
		for _, v := range f[2:] {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("swarmbench: %s: %q: %w", path, line, err)
			}
			row += x
		}
		if row > 1 {
			sum += row
			n++
		}
	}
	if n == 0 || rate <= 0 {
		return 0, nil
	}
	return sum / float64(n) / (float64(receivers) * rate * 8 / 1e6), nil
}

// pct returns the p-th percentile of ds (nearest rank), 0 for none. It
// sorts ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, len(ds)*p/100)]
}
