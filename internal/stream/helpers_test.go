// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// checkLeaks fails t if goroutines started during the test are still
// running (after a grace period) when it ends.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				var keep []string
				for _, g := range strings.Split(string(buf), "\n\n") {
					if strings.Contains(g, "internal/stream") && !strings.Contains(g, "checkLeaks") {
						keep = append(keep, g)
					}
				}
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), strings.Join(keep, "\n\n"))
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// payload returns size pseudo-random bytes.
func payload(size int64, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// pieceOf returns piece i of data under l.
func pieceOf(l core.Layout, data []byte, i core.PieceIndex) []byte {
	r := l.Piece(i)
	return data[r.Off:r.End()]
}

// evictLog records OnEvict calls.
type evictLog struct {
	mu  sync.Mutex // guards the following fields
	got []core.PieceIndex
}

func (e *evictLog) add(ev []core.PieceIndex) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev...)
}

func (e *evictLog) list() []core.PieceIndex {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// newCache builds a cache whose evictions go to the returned log.
func newCache(t testing.TB, cfg Config) (*Cache, *evictLog) {
	t.Helper()
	ev := &evictLog{}
	cfg.OnEvict = ev.add
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ev
}

// idx is shorthand for a list of piece indices.
func idx(is ...int) []core.PieceIndex {
	out := make([]core.PieceIndex, len(is))
	for k, i := range is {
		out[k] = core.PieceIndex(i)
	}
	return out
}

// mustOK fails t on err.
func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
