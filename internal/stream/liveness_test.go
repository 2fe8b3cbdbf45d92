// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
)

// fetchers runs k producers that each take wanted pieces in random order
// (as a scheduler's rarest-first choice would), reserve them, fill them
// from data and commit, until the whole task has been added (Una reaches
// the end) or the cache is closed. They wait on Changed when nothing is
// wanted. It returns when all have exited.
func fetchers(t *testing.T, c *Cache, data []byte, k int, seed uint64) {
	l := c.Layout()
	n := core.PieceIndex(l.Pieces())
	var wg sync.WaitGroup
	for w := range k {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			var wanted []core.PieceIndex
			for {
				ch := c.Changed()
				if c.Una() == n {
					return // every piece added; Changed may never fire again
				}
				wanted = c.Wanted(wanted[:0])
				if len(wanted) == 0 {
					<-ch
					continue
				}
				i := wanted[r.IntN(len(wanted))]
				buf, err := c.Reserve(i)
				if errors.Is(err, ErrReserved) || errors.Is(err, ErrDuplicate) || errors.Is(err, ErrOutsideWindow) {
					continue // another fetcher won the race, or the window moved
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Reserve(%d): %v", i, err)
					return
				}
				rg := l.Piece(i)
				copy(buf, data[rg.Off:rg.End()])
				if r.IntN(8) == 0 { // a failed fetch: give it back
					if err := c.Release(i); err != nil {
						t.Errorf("Release(%d): %v", i, err)
					}
					continue
				}
				if err := c.Commit(i); err != nil {
					t.Errorf("Commit(%d): %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// D7: a task of many more pieces than the window, filled by concurrent
// out-of-order fetchers, streams to the end with the right bytes. The
// Dragonfly window stalled after wnd pieces; this one moves as the
// consumer reads.
func TestLivenessManyPieces(t *testing.T) {
	checkLeaks(t)
	for _, wnd := range []int{1, 2, 5, 16} {
		l := core.Layout{Size: 400*512 - 100, PieceSize: 512}
		data := payload(l.Size, uint64(wnd))
		ev := &evictLog{}
		c, err := New(Config{Layout: l, Window: wnd, Digest: core.DigestOf(data), OnEvict: ev.add})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { fetchers(t, c, data, 4, uint64(wnd)) })
		h := sha256.New()
		n, err := c.WriteTo(h)
		if err != nil || n != l.Size || core.Digest(h.Sum(nil)) != core.DigestOf(data) {
			t.Fatalf("window %d: WriteTo = %d, %v", wnd, n, err)
		}
		wg.Wait()
		st := c.Stats()
		mustOK(t, c.Close())
		if st.PeakBuffers > wnd {
			t.Errorf("window %d: %d buffers at peak", wnd, st.PeakBuffers)
		}
		seen := map[core.PieceIndex]int{}
		for _, i := range ev.list() {
			seen[i]++
		}
		if len(seen) != l.Pieces() {
			t.Errorf("window %d: %d pieces evicted, want %d", wnd, len(seen), l.Pieces())
		}
		for i, k := range seen {
			if k != 1 {
				t.Errorf("window %d: piece %d evicted %d times", wnd, i, k)
			}
		}
	}
}

// slowWriter consumes one small chunk per call, so the consumer is always
// the bottleneck.
type slowWriter struct {
	h     io.Writer
	chunk int
}

func (w slowWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.chunk)
	_, _ = w.h.Write(p[:n]) // a hash never fails
	runtime.Gosched()
	return n, io.ErrShortWrite
}

// A slow reader stalls the window: with fetchers far faster than the
// consumer, the cache never holds more than Window buffers, and the bytes
// allocated for the whole stream stay about Window × piece size however
// long the stream is (buffers are reused).
func TestSlowConsumerBoundsMemory(t *testing.T) {
	checkLeaks(t)
	const (
		wnd       = 4
		pieceSize = 16 << 10
		pieces    = 256 // 64 times the window
	)
	l := core.Layout{Size: pieces * pieceSize, PieceSize: pieceSize}
	data := payload(l.Size, 9)
	c, err := New(Config{Layout: l, Window: wnd, Digest: core.DigestOf(data)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	wg.Go(func() { fetchers(t, c, data, 4, 1) })
	h := sha256.New()
	w := slowWriter{h: h, chunk: 4 << 10}
	var total int64
	for {
		n, err := c.WriteTo(w)
		total += n
		if err == nil {
			break
		}
		if !errors.Is(err, io.ErrShortWrite) {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Buffers > wnd {
			t.Fatalf("%d buffers alive, window %d", st.Buffers, wnd)
		}
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	if total != l.Size || core.Digest(h.Sum(nil)) != core.DigestOf(data) {
		t.Fatalf("streamed %d bytes, digest mismatch", total)
	}
	st := c.Stats()
	if st.PeakBuffers > wnd || st.Allocs > wnd {
		t.Errorf("peak %d buffers, %d allocated, window %d", st.PeakBuffers, st.Allocs, wnd)
	}
	// Everything the stream allocated: the buffers plus small change. Far
	// below the 4 MiB the task holds.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(wnd*pieceSize+1<<20); got > limit {
		t.Errorf("allocated %d bytes for a %d-byte stream, limit %d", got, l.Size, limit)
	}
}
