// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
)

// slotState is what a slot of the window holds.
type slotState uint8

const (
	slotEmpty    slotState = iota // nothing; the piece of this residue is not here
	slotReserved                  // a fetcher is filling the buffer
	slotPresent                   // a verified piece, delivered or not
)

// buffer is one pooled piece buffer. It is shared by the slot that holds
// it and by every pin on it (a [Ref], or the consumer while it copies out
// of it); it goes back to the pool when the last one lets go.
type buffer struct {
	b    []byte // len == Layout.PieceSize
	refs int    // guarded by Cache.mu
}

// slot is one place of the window; piece i lives in slots[i%Window].
type slot struct {
	index int
	state slotState
	buf   *buffer // nil when empty
}

// Cache is the stream-mode window of one task: pieces in memory only,
// filled out of order by fetchers, drained in order by one consumer, served
// to peers until evicted. See the package comment for the rules. The zero
// value is not usable; call [New]. A Cache is safe for concurrent use.
type Cache struct {
	layout  core.Layout
	n       int // pieces in the task
	wnd     int // slots
	want    core.Digest
	onEvict func([]core.PieceIndex)

	readMu sync.Mutex // serialises consumers; guards the following fields
	hash   hash.Hash  // SHA-256 of the bytes delivered so far
	final  error      // sticky end of the stream: io.EOF, *DigestError, ErrClosed, ...
	sum    core.Digest
	summed bool // sum is the digest of the whole stream

	mu      sync.Mutex // guards the following fields
	slots   []slot
	read    int   // first piece the consumer has not fully read
	off     int64 // bytes of piece read already delivered
	pool    []*buffer
	changed chan struct{} // closed at the next change; nil until someone waits
	closed  bool
	cerr    error // what the consumer gets after close
	stats   Stats
}

// New returns an empty Cache for cfg.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := cfg.Layout.Pieces()
	wnd := max(1, min(cfg.Window, n))
	c := &Cache{
		layout:  cfg.Layout,
		n:       n,
		wnd:     wnd,
		want:    cfg.Digest,
		onEvict: cfg.OnEvict,
		hash:    sha256.New(),
		slots:   make([]slot, wnd),
	}
	c.stats.Window = wnd
	return c, nil
}

// Layout returns the task's layout.
func (c *Cache) Layout() core.Layout { return c.layout }

// Window returns the capacity in pieces (Config.Window cut to the task).
func (c *Cache) Window() int { return c.wnd }

// pieceLen is the length of piece i.
func (c *Cache) pieceLen(i int) int64 { return c.layout.Piece(core.PieceIndex(i)).Len }

// Reserve claims the slot of piece i and returns a buffer of exactly the
// piece's length for the caller to fill (a msg segment a parent moves the
// piece into, or the source's bytes). The caller then verifies the bytes
// and calls [Cache.Commit], or [Cache.Release] if the fetch failed; until
// then no other fetcher can add piece i. Claiming the slot may evict the
// piece Window places before i, which the consumer has read.
func (c *Cache) Reserve(i core.PieceIndex) ([]byte, error) {
	c.mu.Lock()
	ev, evicted, err := c.claimLocked(int(i))
	if err != nil {
		c.stats.Refused++
		c.mu.Unlock()
		return nil, err
	}
	s := &c.slots[int(i)%c.wnd]
	s.index, s.state, s.buf = int(i), slotReserved, c.getBufLocked()
	data := s.buf.b[:c.pieceLen(int(i))]
	c.mu.Unlock()
	if evicted {
		c.report([]core.PieceIndex{core.PieceIndex(ev)})
	}
	return data, nil
}

// claimLocked checks that piece i may enter the window and empties its
// slot, evicting the delivered piece that held it. It returns that piece.
func (c *Cache) claimLocked(i int) (ev int, evicted bool, err error) {
	switch {
	case c.closed:
		return 0, false, ErrClosed
	case i < 0 || i >= c.n:
		return 0, false, pieceErr(ErrOutsideWindow, core.PieceIndex(i))
	case i < c.read:
		return 0, false, pieceErr(ErrDuplicate, core.PieceIndex(i))
	case i >= c.read+c.wnd:
		return 0, false, fmt.Errorf("%w: piece %d, window [%d, %d)", ErrOutsideWindow, i, c.read, c.read+c.wnd)
	}
	s := &c.slots[i%c.wnd]
	switch s.state {
	case slotReserved:
		// Only piece i can be reserved here: two indices in the window
		// never share a residue, and the consumer never passes a piece
		// that is not present.
		return 0, false, pieceErr(ErrReserved, core.PieceIndex(i))
	case slotPresent:
		if s.index == i {
			return 0, false, pieceErr(ErrDuplicate, core.PieceIndex(i))
		}
		// s.index == i-Window < read: delivered, so it may go.
		ev = s.index
		c.dropSlotLocked(s)
		c.stats.Evicted++
		return ev, true, nil
	}
	return 0, false, nil
}

// Commit adds reserved piece i, whose bytes the caller has verified, to
// the cache. The consumer may read it and peers may fetch it at once.
func (c *Cache) Commit(i core.PieceIndex) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[int(i)%c.wnd]
	if s.state != slotReserved || s.index != int(i) {
		return pieceErr(ErrNotReserved, i)
	}
	if c.closed {
		c.dropSlotLocked(s)
		return ErrClosed
	}
	s.state = slotPresent
	c.stats.Committed++
	c.signalLocked()
	return nil
}

// Release gives up the reservation of piece i (the fetch failed); the
// piece is wanted again.
func (c *Cache) Release(i core.PieceIndex) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[int(i)%c.wnd]
	if s.state != slotReserved || s.index != int(i) {
		return pieceErr(ErrNotReserved, i)
	}
	c.dropSlotLocked(s)
	c.signalLocked()
	return nil
}

// Put copies piece i, which the caller has verified, into the cache. It
// never blocks: a piece outside the window is refused with
// [ErrOutsideWindow], a piece already held or delivered with
// [ErrDuplicate]. data must be exactly the piece's length; the cache does
// not keep it.
func (c *Cache) Put(i core.PieceIndex, data []byte) error {
	if !c.layout.Contains(i) {
		return pieceErr(ErrOutsideWindow, i)
	}
	if want := c.layout.Piece(i).Len; int64(len(data)) != want {
		return fmt.Errorf("%w: piece %d is %d bytes, got %d", ErrSize, i, want, len(data))
	}
	buf, err := c.Reserve(i)
	if err != nil {
		return err
	}
	copy(buf, data)
	return c.Commit(i)
}

// Ref pins the bytes of one piece handed out by [Cache.Get]. The bytes
// stay valid and unchanged until Release, even if the piece is evicted
// meanwhile. A Ref is used by one goroutine.
type Ref struct {
	c        *Cache
	buf      *buffer
	data     []byte
	released bool // guarded by c.mu
}

// Bytes returns the piece's bytes. They must not be modified.
func (r *Ref) Bytes() []byte { return r.data }

// Release unpins the bytes; they must not be used afterwards. Calling it
// again does nothing.
func (r *Ref) Release() {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if !r.released {
		r.released = true
		r.c.unrefLocked(r.buf)
	}
}

// Get returns piece i for serving a peer, without waiting: the pinned
// bytes if the cache holds the piece, [ErrEvicted] if the consumer read it
// and it has since left, [ErrNotHeld] if the cache has not received it.
// The caller must Release the Ref.
func (c *Cache) Get(i core.PieceIndex) (*Ref, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.stats.Misses++
		return nil, ErrClosed
	}
	if !c.layout.Contains(i) {
		c.stats.Misses++
		return nil, pieceErr(ErrNotHeld, i)
	}
	s := &c.slots[int(i)%c.wnd]
	if s.state == slotPresent && s.index == int(i) {
		s.buf.refs++
		c.stats.Served++
		return &Ref{c: c, buf: s.buf, data: s.buf.b[:c.pieceLen(int(i))]}, nil
	}
	c.stats.Misses++
	if int(i) < c.read {
		return nil, pieceErr(ErrEvicted, i)
	}
	return nil, pieceErr(ErrNotHeld, i)
}

// Holds reports whether piece i is in the cache now: a [Cache.Get] would
// return its bytes. The daemon uses it to tell the scheduler, after it
// joined a task again, which of the pieces it received it still serves.
func (c *Cache) Holds(i core.PieceIndex) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.layout.Contains(i) && c.heldLocked(int(i))
}

// Una returns the first piece at or after the consumer's position that
// the cache does not hold: every piece before it was received. This is
// what the scheduler's una is for this peer when the daemon acknowledges
// pieces as it commits them. Una equals the task's piece count once every
// piece has been added: fetchers stop then (Changed fires again only when
// the consumer reads or on Close).
func (c *Cache) Una() core.PieceIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, end := c.read, c.limitLocked()
	for i < end && c.heldLocked(i) {
		i++
	}
	return core.PieceIndex(i)
}

// Limit returns the end of the window: pieces before it and at or after
// the consumer's position may be added. It is the task's piece count once
// the window reaches the end.
func (c *Cache) Limit() core.PieceIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	return core.PieceIndex(c.limitLocked())
}

// Free returns how many pieces may be added now: the pieces of the window
// neither held nor reserved. It is the receiver's half of flow control:
// the daemon asks the scheduler for at most this many pieces.
func (c *Cache) Free() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := 0
	for i := c.read; i < c.limitLocked(); i++ {
		if !c.takenLocked(i) {
			k++
		}
	}
	return k
}

// Wanted appends to dst the pieces that may be added now, in index order
// (the piece the consumer waits for first), and returns the result.
func (c *Cache) Wanted(dst []core.PieceIndex) []core.PieceIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := c.read; i < c.limitLocked(); i++ {
		if !c.takenLocked(i) {
			dst = append(dst, core.PieceIndex(i))
		}
	}
	return dst
}

// Accepts reports whether piece i may be added now.
func (c *Cache) Accepts(i core.PieceIndex) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && int(i) >= c.read && int(i) < c.limitLocked() && !c.takenLocked(int(i))
}

// Changed returns a channel that is closed at the next change of the
// window: a piece committed or released, the consumer finishing a piece,
// or Close. Event loops select on it to ask for more pieces; call Changed
// again after it fires.
func (c *Cache) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changedLocked()
}

// Close ends the stream: a consumer still reading gets [ErrClosed], every
// held piece is evicted (and reported), and later calls fail with
// ErrClosed. Refs already handed out stay valid until released. Close is
// idempotent and always returns nil.
func (c *Cache) Close() error { return c.CloseWithError(nil) }

// CloseWithError is Close, except that a consumer still reading gets err
// (a failed download, a cancelled request) instead of ErrClosed.
func (c *Cache) CloseWithError(err error) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cerr = ErrClosed
	if err != nil {
		c.cerr = err
	}
	var ev []core.PieceIndex
	for k := range c.slots {
		s := &c.slots[k]
		if s.state == slotPresent {
			ev = append(ev, core.PieceIndex(s.index))
			c.dropSlotLocked(s)
			c.stats.Evicted++
		}
		// A reserved slot keeps its buffer until Commit or Release.
	}
	c.stats.Buffers -= len(c.pool)
	c.pool = nil
	c.signalLocked()
	c.mu.Unlock()
	c.report(ev)
	return nil
}

// report tells OnEvict about evicted pieces; called without c.mu.
func (c *Cache) report(ev []core.PieceIndex) {
	if c.onEvict != nil && len(ev) > 0 {
		c.onEvict(ev)
	}
}

func (c *Cache) limitLocked() int { return min(c.n, c.read+c.wnd) }

// heldLocked reports whether piece i is present.
func (c *Cache) heldLocked(i int) bool {
	s := &c.slots[i%c.wnd]
	return s.state == slotPresent && s.index == i
}

// takenLocked reports whether piece i, in the window, is present or
// reserved.
func (c *Cache) takenLocked(i int) bool {
	s := &c.slots[i%c.wnd]
	return s.state != slotEmpty && s.index == i
}

func (c *Cache) changedLocked() chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// signalLocked wakes everyone waiting on Changed.
func (c *Cache) signalLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// getBufLocked takes a buffer from the pool or allocates one; the caller
// holds its one reference.
func (c *Cache) getBufLocked() *buffer {
	var b *buffer
	if k := len(c.pool); k > 0 {
		b, c.pool = c.pool[k-1], c.pool[:k-1]
	} else {
		b = &buffer{b: make([]byte, c.layout.PieceSize)}
		c.stats.Buffers++
		c.stats.Allocs++
		c.stats.PeakBuffers = max(c.stats.PeakBuffers, c.stats.Buffers)
	}
	b.refs = 1
	return b
}

// unrefLocked drops one reference to b and pools it when none is left.
// The pool never grows the cache past Window buffers: extra buffers (left
// by Refs on evicted pieces) are dropped for the garbage collector.
func (c *Cache) unrefLocked(b *buffer) {
	b.refs--
	if b.refs > 0 {
		return
	}
	if c.closed || c.stats.Buffers > c.wnd {
		c.stats.Buffers--
		return
	}
	c.pool = append(c.pool, b)
}

// dropSlotLocked empties s and unpins its buffer.
func (c *Cache) dropSlotLocked(s *slot) {
	c.unrefLocked(s.buf)
	s.state, s.buf = slotEmpty, nil
}
