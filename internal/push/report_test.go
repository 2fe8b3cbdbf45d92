// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/push"
)

func TestSummary(t *testing.T) {
	ok := &push.Result{Task: taskT, Bytes: 64 << 20, FromSeed: 16 << 20, Millis: 2000, Digest: dig, Name: "f"}
	full := push.NewResult(offers()["offer"], dig, 1<<20, 1<<20, time.Second, errors.Join(push.ErrDiskFull, errors.New("no space\nleft")))
	reports := []push.Report{
		push.ReportFrom("h1:7602", "f", ok, 2*time.Second, nil),
		push.ReportFrom("h2:7602", "f", ok, 2*time.Second, nil),
		push.ReportFrom("h3:7602", "f", full, time.Second, nil),
		push.ReportFrom("h4:7602", "f", nil, 5*time.Second, errors.New("dial tcp h4:7602: connection refused")),
	}
	if !errors.Is(reports[2].Err, push.ErrDiskFull) {
		t.Fatalf("disk full report: %v", reports[2].Err)
	}
	var b strings.Builder
	if err := push.WriteSummary(&b, reports); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("summary has %d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"RECEIVER", "STATUS", "h1:7602", "64.0 MiB", "16.0 MiB", "32.0 MiB/s", "2s",
		"FAILED: receiver: push: disk full no space left", "FAILED: dial tcp h4:7602: connection refused",
		"2 of 4 transfers ok, 2 failed; the pusher uploaded 33.0 MiB (0.52 copies of the files)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if push.ExitCode(reports) != 1 || push.ExitCode(reports[:2]) != 0 || push.ExitCode(nil) != 1 {
		t.Fatal("ExitCode wrong")
	}
	if r := push.ReportFrom("h", "f", nil, 0, nil); !errors.Is(r.Err, push.ErrFetch) {
		t.Fatalf("no result and no error: %v", r.Err)
	}
}
