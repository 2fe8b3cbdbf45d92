// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/stream"
)

// TestStreamEvictedAfterReportsClosed: a consumer's Close (abandon) closes
// the cache and reports the pieces it held as evicted, from the consumer's
// goroutine. The loop may have ended and closed the reports queue before
// that report (a worker's Commit failed on the closed cache): the report
// is dropped, not sent on the closed channel.
func TestStreamEvictedAfterReportsClosed(t *testing.T) {
	d := &Daemon{
		cfg: Config{Scheduler: "127.0.0.1:1", Concurrency: 1}, // reports are queued only with a scheduler
		log: slog.New(slog.DiscardHandler),
		ctx: context.Background(),
	}
	d.sched = &schedClient{d: d}
	l := core.Layout{Size: 8, PieceSize: 4}
	url := "http://origin/x"
	st, err := d.newStreamTask(core.TaskIDForURL(url, l.PieceSize), Request{URL: url}, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.cancel()
	if err := st.cache.Put(0, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	st.closeReports()
	st.abandon(ErrCanceled) // piece 0 is evicted: its report comes too late
	if _, err := st.cache.Get(0); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Get after abandon: %v, want ErrClosed", err)
	}
	for m := range st.reports {
		t.Fatalf("%v queued after the reports queue closed", m.Type())
	}
}
