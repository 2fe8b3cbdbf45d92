// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/testbin"
	"github.com/pollen-dev/pollen/internal/units"
)

// TestPushSmall runs the push benchmark with 1 and 2 receivers, a 4 MiB
// file and 50 Mbit/s links: every copy verified (RunPush fails
// otherwise), one copy served whatever N, and system calls counted. It is
// a functional test of the harness, not a benchmark. It skips without
// root (or perf and strace) and builds the pollen binary it runs.
func TestPushSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds a network lab")
	}
	if err := netlab.Supported(t.Context()); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := syscallCounter(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	bin := testbin.Pollen(t)
	rate, _ := units.ParseRate("50Mbit")
	const size = 4 << 20
	trace := t.TempDir()
	cfg := PushConfig{
		Binary: bin, Receivers: []int{1, 2}, Size: size, Rate: rate, Timeout: 20 * time.Second,
		TraceDir: trace, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	var buf bytes.Buffer
	err := RunPush(interruptible(t), cfg, report.NewWriter(&buf, true))
	if errors.Is(err, netlab.ErrNotSupported) || errors.Is(err, ErrMissingTools) || errors.Is(err, ErrNeighbourTableFull) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for line := range bytes.Lines(buf.Bytes()) {
		var r report.Result
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		got[r.Case+" "+r.Metric] = r.Value
	}
	for _, c := range []string{"n1-4MiB", "n2-4MiB"} {
		if got[c+" all_done"] <= 0 || got[c+" syscalls"] <= 0 || got[c+" pieces"] != 16 {
			t.Errorf("%s: all done %v s, %v syscalls, %v pieces", c, got[c+" all_done"], got[c+" syscalls"], got[c+" pieces"])
		}
		// One copy from the pusher whatever N (plus a byte per size
		// probe); the link adds headers and the scheduler's traffic.
		if s := got[c+" served_bytes"]; s < size || s > size*13/10 {
			t.Errorf("%s: the pusher served %v bytes of a %d-byte file", c, s, size)
		}
		if l := got[c+" link_bytes"]; l < size || l > size*13/10 {
			t.Errorf("%s: the pusher's link sent %v bytes for a %d-byte file", c, l, size)
		}
	}
	if r := got["n1-4MiB time_vs_n1"]; r != 1 {
		t.Errorf("n1 time ratio %v, want 1", r)
	}
	// The trace kept every receiver's timeline: each receiver fetched
	// the 16 pieces once, and the pusher's last piece came within the
	// span.
	for n, pieces := range map[int]int{1: 16, 2: 32} {
		s, err := summarizeTrace(filepath.Join(trace, "n"+strconv.Itoa(n)), float64(rate))
		if err != nil {
			t.Fatalf("trace of n%d: %v", n, err)
		}
		if s.Pieces != pieces || s.Span <= 0 || s.SourceDone <= 0 || s.SourceDone > s.Span || s.Get50 < 0 {
			t.Errorf("trace of n%d: %+v, want %d pieces", n, s, pieces)
		}
	}
	// Nothing of the run is left: no namespace of this process, no
	// directory.
	pid := strconv.Itoa(os.Getpid())
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "swarmbench-"+pid+"-*"))
	ns, _ := filepath.Glob("/run/netns/pl" + pid + "-*")
	if left = append(left, ns...); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestParseCounts reads the counts of perf stat -x, and of strace -c.
func TestParseCounts(t *testing.T) {
	perf := "# started on Sat Nov 21 12:09:03 2026\n\n" +
		"17623,,raw_syscalls:sys_enter,1525828,100.00,,\n" +
		"633,,syscalls:sys_enter_sendfile64,1525828,100.00,,\n" +
		"2224,,syscalls:sys_enter_read,1525828,100.00,,\n"
	strace := "% time     seconds  usecs/call     calls    errors syscall\n" +
		"------ ----------- ----------- --------- --------- ----------------\n" +
		" 28.09    0.000175           5        34        13 openat\n" +
		" 19.42    0.000121           4       633           sendfile\n" +
		"------ ----------- ----------- --------- --------- ----------------\n" +
		"100.00    0.000623           4       667        19 total\n"
	for _, tc := range []struct {
		counter, out string
		want         map[string]int64
	}{
		{"perf", perf, map[string]int64{"total": 17623, "sendfile": 633, "read": 2224}},
		{"strace", strace, map[string]int64{"total": 667, "sendfile": 633, "openat": 34}},
	} {
		got, err := parseCounts(tc.counter, []byte(tc.out))
		if err != nil {
			t.Fatalf("%s: %v", tc.counter, err)
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.counter, got, tc.want)
		}
	}
	if _, err := parseCounts("perf", []byte("<not counted>,,raw_syscalls:sys_enter,0,100.00,,\n")); err == nil {
		t.Error("perf without a count: no error")
	}
	if _, err := parseCounts("strace", []byte("strace: exec: no such file\n")); err == nil {
		t.Error("strace without a total: no error")
	}
}
