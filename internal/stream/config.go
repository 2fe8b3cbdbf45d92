// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// DefaultWindow is the window in pieces when [Config.Window] is 0: 16
// pieces of 4 MiB hold 64 MiB.
const DefaultWindow = 16

// MinDefaultBytes is the least a default window holds: with small pieces
// it has more than DefaultWindow of them (WindowFor).
const MinDefaultBytes = 4 << 20

// WindowFor returns the default window in pieces for pieces of pieceSize
// bytes: DefaultWindow, or more to hold at least MinDefaultBytes (at most
// MaxWindow). Peers streaming one task serve each other from their
// windows; a window of too few bytes covers less of their drift, and a
// piece then leaves every window before a slower peer asks for it and is
// fetched from the source again.
func WindowFor(pieceSize int64) int {
	if pieceSize <= 0 {
		return DefaultWindow
	}
	n := (MinDefaultBytes + pieceSize - 1) / pieceSize
	return int(min(max(n, DefaultWindow), MaxWindow))
}

// MaxWindow is the largest window, the same as proto.MaxWindow (the
// window travels in proto.Join).
const MaxWindow = 4096

// Config configures a [Cache]. It is plain data; the zero value of every
// field but Layout means "default".
type Config struct {
	// Layout is how the task is cut into pieces. Required and valid.
	Layout core.Layout

	// Window is the capacity in pieces, in [1, MaxWindow]; 0 means
	// [DefaultWindow]. The cache never holds more than Window pieces, so
	// its memory is at most Window × Layout.PieceSize. A window larger
	// than the task is cut to the task's piece count.
	Window int

	// Digest is the expected SHA-256 of the whole stream. The zero digest
	// means "unknown": the stream is not checked at its end (each piece is
	// still verified by the fetcher before Put).
	Digest core.Digest

	// OnEvict, if set, is told about pieces that left the cache after the
	// consumer read them, each piece exactly once; the daemon turns them
	// into proto.Evicted. It is called without the cache's lock held, may
	// be called from several goroutines at once, and should not block: the
	// Put, Reserve or Close that evicted waits for it. The slice is valid
	// only during the call.
	OnEvict func(evicted []core.PieceIndex)
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	return c
}

// Validate reports whether c (after defaults) can build a [Cache].
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Layout.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.Window < 1 || c.Window > MaxWindow {
		return fmt.Errorf("%w: window %d outside [1, %d]", ErrConfig, c.Window, MaxWindow)
	}
	return nil
}
