// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"errors"
	"io"

	"github.com/pollen-dev/pollen/internal/core"
)

// Read reads the stream in order. It blocks until the next byte's piece is
// in the cache; it returns io.EOF after the last byte if the stream's
// SHA-256 matches [Config.Digest] (or no digest was given), a
// [*DigestError] if it does not, and the Close error if the cache was
// closed first. The end result is sticky.
func (c *Cache) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.final != nil {
		return 0, c.final
	}
	if len(p) == 0 {
		return 0, nil
	}
	buf, data, err := c.next()
	if err != nil {
		return 0, c.finish(err)
	}
	n := copy(p, data)
	c.hash.Write(p[:n])
	c.advance(buf, n)
	return n, nil
}

// WriteTo writes the rest of the stream to w in order, each piece with
// one Write straight from the cache's buffer, as soon as the pieces
// arrive. It returns nil at the end of a verified stream, a [*DigestError]
// if the stream's digest is wrong, w's error, or the Close error.
func (c *Cache) WriteTo(w io.Writer) (int64, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	var total int64
	for {
		if c.final != nil {
			if errors.Is(c.final, io.EOF) {
				return total, nil
			}
			return total, c.final
		}
		buf, data, err := c.next()
		if err != nil {
			_ = c.finish(err) // recorded in c.final, returned at the top of the loop
			continue
		}
		n, werr := w.Write(data)
		n = max(0, min(n, len(data)))
		c.hash.Write(data[:n])
		c.advance(buf, n)
		total += int64(n)
		if werr == nil && n < len(data) {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return total, werr
		}
	}
}

// Digest returns the SHA-256 of the whole stream once the consumer has
// read to its end, and false before.
func (c *Cache) Digest() (core.Digest, bool) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.sum, c.summed
}

// next waits for the piece at the consumer's position and pins it. It
// returns the piece's undelivered bytes, or io.EOF past the last piece, or
// the Close error.
func (c *Cache) next() (*buffer, []byte, error) {
	c.mu.Lock()
	for {
		if c.read >= c.n {
			c.mu.Unlock()
			return nil, nil, io.EOF
		}
		if c.closed {
			err := c.cerr
			c.mu.Unlock()
			return nil, nil, err
		}
		if s := &c.slots[c.read%c.wnd]; s.state == slotPresent && s.index == c.read {
			// The slot is read under c.mu only: once it is let go, a
			// Close may empty the slot (its buf nil) while the pin keeps
			// the buffer itself.
			b := s.buf
			b.refs++
			data := b.b[c.off:c.pieceLen(c.read)]
			c.mu.Unlock()
			return b, data, nil
		}
		ch := c.changedLocked()
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
}

// advance records n bytes delivered from the pinned current piece and
// unpins it; a finished piece moves the window.
func (c *Cache) advance(b *buffer, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unrefLocked(b)
	if c.closed {
		return
	}
	c.off += int64(n)
	c.stats.DeliveredBytes += int64(n)
	if c.off == c.pieceLen(c.read) {
		c.read++
		c.off = 0
		c.stats.DeliveredPieces++
		c.signalLocked()
	}
}

// finish records the end of the stream: at io.EOF the digest check, else
// the error. The caller holds readMu.
func (c *Cache) finish(err error) error {
	if errors.Is(err, io.EOF) {
		c.sum, c.summed = core.Digest(c.hash.Sum(nil)), true
		if !c.want.IsZero() && c.sum != c.want {
			err = &DigestError{Want: c.want, Got: c.sum}
		}
	}
	c.final = err
	return err
}
