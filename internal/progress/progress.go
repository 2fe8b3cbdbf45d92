// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package progress

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Bars is a set of progress bars drawn together on one writer. The zero
// value is not usable; call [New].
type Bars struct {
	p *mpb.Progress // nil when quiet

	mu   sync.Mutex // guards bars
	bars []*Bar
}

// Bar is one progress bar. A nil *Bar and the bars of a quiet [Bars] do
// nothing.
type Bar struct {
	b *mpb.Bar

	mu   sync.Mutex // guards last and cur
	last time.Time
	cur  int64
}

// New returns bars drawn on w when w is a terminal, and quiet bars
// otherwise. Drawing stops when ctx is done.
func New(ctx context.Context, w io.Writer) *Bars {
	return NewWith(ctx, w, IsTerminal(w))
}

// NewWith is [New] with the choice to draw made by the caller (draw is
// false for --quiet, or true to force bars onto a non-terminal in tests).
func NewWith(ctx context.Context, w io.Writer, draw bool) *Bars {
	if !draw {
		return &Bars{}
	}
	return &Bars{p: mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40),
		mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())}
}

// Drawing reports whether the bars are drawn.
func (bs *Bars) Drawing() bool { return bs.p != nil }

// Add adds a bar named name for total bytes (0 if not yet known; see
// [Bar.SetTotal]).
func (bs *Bars) Add(name string, total int64) *Bar {
	if bs.p == nil {
		return &Bar{}
	}
	b := bs.p.AddBar(total,
		mpb.PrependDecorators(
			decor.Name(name, decor.WCSyncSpaceR),
			decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace),
			decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), "done"),
		),
	)
	bar := &Bar{b: b, last: time.Now()}
	bs.mu.Lock()
	bs.bars = append(bs.bars, bar)
	bs.mu.Unlock()
	return bar
}

// Wait ends the bars that are not complete (they stay on screen as they
// are) and waits until the last frame is drawn and the rendering
// goroutines have exited.
func (bs *Bars) Wait() {
	if bs.p == nil {
		return
	}
	bs.mu.Lock()
	for _, b := range bs.bars {
		if !b.b.Completed() {
			b.b.Abort(false)
		}
	}
	bs.mu.Unlock()
	bs.p.Wait()
}

// SetTotal sets the bar's total in bytes.
func (b *Bar) SetTotal(total int64) {
	if b == nil || b.b == nil {
		return
	}
	b.b.SetTotal(total, false)
}

// Set moves the bar to cur bytes; the rate and time left follow from how
// fast cur grows between calls.
func (b *Bar) Set(cur int64) {
	if b == nil || b.b == nil {
		return
	}
	b.mu.Lock()
	now := time.Now()
	if cur < b.cur {
		cur = b.cur
	}
	dt := now.Sub(b.last)
	b.last, b.cur = now, cur
	b.mu.Unlock()
	b.b.EwmaSetCurrent(cur, dt)
}

// Done completes the bar at total bytes.
func (b *Bar) Done(total int64) {
	if b == nil || b.b == nil {
		return
	}
	b.Set(total)
	b.b.SetTotal(total, true)
}

// IsTerminal reports whether w is a terminal: an *os.File, or anything
// with an Fd method, whose descriptor is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && isTerminal(f.Fd())
}

// Follow moves the bar every 200 ms to what read reports, until done is
// closed or ctx is done; then it sets the last value read. It does not
// complete the bar: call [Bar.Done] if what it followed succeeded. With
// quiet bars it only waits.
func (b *Bar) Follow(ctx context.Context, done <-chan struct{}, read func() (cur, total int64)) {
	update := func() {
		if b == nil || b.b == nil {
			return
		}
		cur, total := read()
		b.SetTotal(total)
		b.Set(cur)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		update()
		select {
		case <-done:
			update()
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
