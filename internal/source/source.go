// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Source is an origin object. Its implementations are [*HTTP] and [*File].
type Source interface {
	// URL returns the URL the source was opened with.
	URL() string
	// Size returns the object's size in bytes.
	Size() int64
	// ReadRange writes bytes [off, off+n) of the object to w and returns
	// how many it wrote. Fewer than n only with an error. An error from w
	// is returned as is, never retried.
	ReadRange(ctx context.Context, off, n int64, w io.Writer) (int64, error)
	// Close releases the source's resources.
	Close() error
}

// Errors. Most are wrapped with context; test with errors.Is.
var (
	// ErrUnsupported is returned by Open for a URL scheme other than
	// http, https and file.
	ErrUnsupported = errors.New("source: unsupported URL")
	// ErrGaveUp marks a request that failed on every attempt of its
	// retry budget; the last cause is wrapped too.
	ErrGaveUp = errors.New("source: retries exhausted")
	// ErrTimeout marks an attempt that made no progress for
	// Config.Timeout: an origin that hangs.
	ErrTimeout = errors.New("source: origin stalled")
	// ErrChanged marks an origin whose answers contradict the object's
	// size or the range asked for: the object changed, or the origin is
	// broken. Not retried.
	ErrChanged = errors.New("source: origin changed or misbehaved")
	// ErrRange is returned for a range outside the object.
	ErrRange = errors.New("source: range outside object")
)

// StatusError is an HTTP response with an unexpected status.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("source: %s: HTTP %s", e.URL, e.Status)
}

// Temporary reports whether the status may go away on retry: 5xx, 408
// and 429.
func (e *StatusError) Temporary() bool {
	return e.Code >= 500 || e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests
}

// Config configures [Open]. The zero value is ready to use.
type Config struct {
	// Client makes HTTP requests. Nil means a client with its own
	// transport cloned from http.DefaultTransport, without compression
	// (byte ranges are of the object, not of an encoding of it). Its
	// Timeout should be zero: Timeout below bounds stalls instead, so that
	// a large range over a slow link is not cut off.
	Client *http.Client
	// Timeout is how long one HTTP attempt may go without progress:
	// waiting for response headers, or between body bytes. Zero means
	// 30 seconds.
	Timeout time.Duration
	// Attempts is how many times a request is tried in a row without
	// progress before giving up. Zero means 5.
	Attempts int
	// BaseDelay is the backoff before the first retry; it doubles with
	// each further retry, with random jitter. Zero means 200ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. Zero means 10 seconds.
	MaxDelay time.Duration
	// Logger receives a line per retry. Nil means discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableCompression = true
		c.Client = &http.Client{Transport: tr}
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Attempts == 0 {
		c.Attempts = 5
	}
	if c.BaseDelay == 0 {
		c.BaseDelay = 200 * time.Millisecond
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	switch {
	case c.Timeout < 0:
		return fmt.Errorf("source: config: negative Timeout %v", c.Timeout)
	case c.Attempts < 0:
		return fmt.Errorf("source: config: negative Attempts %d", c.Attempts)
	case c.BaseDelay < 0 || c.MaxDelay < 0:
		return fmt.Errorf("source: config: negative delay")
	}
	return nil
}

// Open opens the object at rawURL: http:// and https:// URLs are probed
// for their size (with retries), file:// URLs name a local regular file.
func Open(ctx context.Context, rawURL string, cfg Config) (Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ownClient := cfg.Client == nil
	cfg = cfg.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	switch u.Scheme {
	case "http", "https":
		return openHTTP(ctx, u, cfg, ownClient)
	case "file":
		return openFile(u)
	}
	return nil, fmt.Errorf("%w: scheme %q in %s", ErrUnsupported, u.Scheme, rawURL)
}

// checkRange validates [off, off+n) against an object of size bytes.
func checkRange(off, n, size int64) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%w: [%d, %d+%d) of %d bytes", ErrRange, off, off, n, size)
	}
	return nil
}
