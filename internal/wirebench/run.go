// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/report"
)

// A Case is one workload.
type Case struct {
	// Name is the case's name in reports, like "rr-1B-1conn": workload,
	// payload size, concurrent senders.
	Name string
	// Stream selects streaming (throughput) instead of request/response
	// (transactions per second).
	Stream bool
	// Size is the payload length in bytes; every message adds HeaderLen.
	Size int
	// Senders is the number of concurrent senders: TCP connections for the
	// baseline, sockets or streams for a multiplexor. Streaming uses one.
	Senders int
}

// DefaultCases returns SPEC's wire workloads: request/response with 1-byte
// and 100-byte payloads at 1 and 200 concurrent senders, and 64 KiB message
// streaming.
func DefaultCases() []Case {
	return []Case{
		{Name: "rr-1B-1conn", Size: 1, Senders: 1},
		{Name: "rr-100B-1conn", Size: 100, Senders: 1},
		{Name: "rr-1B-200conn", Size: 1, Senders: 200},
		{Name: "rr-100B-200conn", Size: 100, Senders: 200},
		{Name: "stream-64KiB-1conn", Stream: true, Size: 64 << 10, Senders: 1},
	}
}

// Pinning selects whether the two ends run pinned to one CPU.
type Pinning string

// The pinning modes. Pinned cases get the suffix "-pinned".
const (
	PinOff  Pinning = "off"
	PinOn   Pinning = "on"
	PinBoth Pinning = "both"
)

// ParsePinning parses "off", "on" or "both".
func ParsePinning(s string) (Pinning, error) {
	switch p := Pinning(s); p {
	case PinOff, PinOn, PinBoth:
		return p, nil
	}
	return "", fmt.Errorf("wirebench: pinning %q: want off, on or both", s)
}

// Options configures [Run].
type Options struct {
	// Bench is the "bench" field of every result; "" uses each
	// candidate's name.
	Bench string
	// Baseline is measured beside every candidate; nil means [TCP].
	Baseline Transport
	// Candidates are the transports compared with the baseline.
	Candidates []Transport
	// Cases to run; nil means [DefaultCases].
	Cases []Case
	// Duration of one measurement; 0 means 5s. Warmup precedes it
	// (connections are set up before); 0 means Duration/10, at most 1s.
	Duration, Warmup time.Duration
	// Runs is the number of interleaved repetitions; the medians are
	// reported. 0 means 1.
	Runs int
	// Pin selects pinned and/or unpinned measurements; "" means PinOff.
	Pin Pinning
	// Server re-executes a program as the server side; nil runs the
	// servers in this process.
	Server *ServerCommand
	// Versus adds rows comparing two candidates measured in the same run:
	// {"wire", "yamux"} reports wire with yamux as its baseline.
	Versus [][2]string
	// Log receives one progress line per measurement; nil discards them.
	Log io.Writer
}

// Run measures every case for the baseline and every candidate, runs
// interleaved and rotated (ABAB) so drift on a busy machine cancels, and
// hands emit one [report.Result] per candidate and case, with the baseline's
// median beside the candidate's median.
func Run(ctx context.Context, opts Options, emit func(report.Result) error) error {
	if opts.Baseline == nil {
		opts.Baseline = TCP()
	}
	if opts.Cases == nil {
		opts.Cases = DefaultCases()
	}
	if opts.Duration <= 0 {
		opts.Duration = 5 * time.Second
	}
	if opts.Warmup <= 0 {
		opts.Warmup = min(opts.Duration/10, time.Second)
	}
	opts.Runs = max(opts.Runs, 1)
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// The child's stderr is copied by a goroutine of os/exec; when it is
	// the log, both go through one lock.
	lw := &lockedWriter{w: opts.Log}
	if opts.Server != nil && opts.Server.Stderr == opts.Log {
		srv := *opts.Server
		srv.Stderr = lw
		opts.Server = &srv
	}
	opts.Log = lw
	var modes []bool
	switch opts.Pin {
	case PinOff, "":
		modes = []bool{false}
	case PinOn:
		modes = []bool{true}
	case PinBoth:
		modes = []bool{false, true}
	default:
		return fmt.Errorf("wirebench: pinning %q: want off, on or both", opts.Pin)
	}
	for _, pinned := range modes {
		if err := runMode(ctx, opts, pinned, emit); err != nil {
			return err
		}
	}
	return nil
}

// runMode runs every case with both ends pinned to one CPU or not.
func runMode(ctx context.Context, opts Options, pinned bool, emit func(report.Result) error) (err error) {
	all := append([]Transport{opts.Baseline}, opts.Candidates...)
	cpu := -1
	if pinned {
		if cpu, err = PinCPU(); err != nil {
			return err
		}
		restore, err := PinProcess(cpu)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, restore()) }()
	}
	var srv *Servers
	if opts.Server != nil {
		srv, err = StartServer(ctx, *opts.Server, cpu)
	} else {
		srv, err = Serve(ctx, all)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, srv.Close()) }()
	mode := "unpinned"
	if pinned {
		mode = fmt.Sprintf("pinned to CPU %d", cpu)
	}
	if srv.CPUs() != "" {
		mode += ", server process on CPUs " + srv.CPUs()
	}
	fmt.Fprintf(opts.Log, "# %s\n", mode)
	for _, c := range opts.Cases {
		name := c.Name
		if pinned {
			name += "-pinned"
		}
		vals := map[string][]float64{}
		for r := range opts.Runs {
			var line strings.Builder
			fmt.Fprintf(&line, "%s run %d:", name, r+1)
			for i := range all {
				t := all[(i+r)%len(all)] // rotate the order run by run
				addr := srv.Addr(t.Name())
				if addr == "" {
					return fmt.Errorf("wirebench: no server for transport %s", t.Name())
				}
				v, err := measure(ctx, t, addr, c, opts.Warmup, opts.Duration)
				if err != nil {
					return &MeasureError{Case: name, Transport: t.Name(), Err: err}
				}
				vals[t.Name()] = append(vals[t.Name()], v)
				fmt.Fprintf(&line, " %s %s", t.Name(), report.FormatFloat(v))
			}
			fmt.Fprintln(opts.Log, line.String())
		}
		res := func(t string) report.Result {
			bench := opts.Bench
			if bench == "" {
				bench = t
			}
			r := report.Result{Bench: bench, Case: name, Metric: "tps", Unit: "1/s", Value: report.Median(vals[t]), Better: report.Higher}
			if c.Stream {
				r.Metric, r.Unit = "throughput", "MB/s"
			}
			return r
		}
		base := report.Median(vals[opts.Baseline.Name()])
		for _, t := range opts.Candidates {
			if err := emit(res(t.Name()).WithBaseline(opts.Baseline.Name(), base)); err != nil {
				return err
			}
		}
		for _, v := range opts.Versus {
			if vals[v[0]] == nil || vals[v[1]] == nil {
				continue
			}
			if err := emit(res(v[0]).WithBaseline(v[1], report.Median(vals[v[1]]))); err != nil {
				return err
			}
		}
	}
	return nil
}

// measure dials t and runs case c once: transactions per second, or MB/s
// for streaming.
func measure(ctx context.Context, t Transport, addr string, c Case, warmup, d time.Duration) (float64, error) {
	senders := max(c.Senders, 1)
	cl, err := t.Dial(ctx, addr, senders)
	if err != nil {
		return 0, err
	}
	var v float64
	if c.Stream {
		v, err = MeasureStream(ctx, cl, c.Size, warmup, d)
		v /= 1e6
	} else {
		v, err = MeasureRR(ctx, cl, c.Size, warmup, d)
	}
	return v, errors.Join(err, cl.Close())
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// MeasureError is a measurement that failed: which case, over which
// transport, and why.
type MeasureError struct {
	Case, Transport string
	Err             error
}

func (e *MeasureError) Error() string {
	return fmt.Sprintf("%s over %s: %v", e.Case, e.Transport, e.Err)
}

func (e *MeasureError) Unwrap() error { return e.Err }
