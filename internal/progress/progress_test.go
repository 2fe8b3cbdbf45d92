// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestQuietOffTerminal(t *testing.T) {
	var buf lockedBuffer
	bs := New(t.Context(), &buf)
	if bs.Drawing() {
		t.Fatal("drawing on a buffer")
	}
	b := bs.Add("x", 100)
	b.Set(50)
	b.Done(100)
	bs.Wait()
	if buf.String() != "" {
		t.Errorf("quiet bars wrote %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}

func TestDraw(t *testing.T) {
	var buf lockedBuffer
	bs := NewWith(t.Context(), &buf, true)
	done := make(chan struct{})
	b := bs.Add("blob", 4<<20)
	var n atomic.Int64
	go func() {
		for range 4 {
			time.Sleep(30 * time.Millisecond)
			n.Add(1 << 20)
		}
		close(done)
	}()
	b.Follow(t.Context(), done, func() (int64, int64) { return n.Load(), 4 << 20 })
	b.Done(4 << 20)
	unfinished := bs.Add("stuck", 10)
	unfinished.Set(3)
	bs.Wait() // ends the unfinished bar too
	out := buf.String()
	for _, want := range []string{"blob", "4.0 MiB / 4.0 MiB", "stuck"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
}
