// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP is an object on an http(s) origin. It is safe for concurrent use.
type HTTP struct {
	url       string
	cfg       Config
	ownClient bool // cfg.Client was made by Open: Close closes its idle connections
	size      int64
}

// openHTTP learns the object's size with a one-byte Range request: a 206
// answer names the size in Content-Range, a 200 (no range support) in
// Content-Length, and a 416 with "bytes */0" means an empty object.
func openHTTP(ctx context.Context, u *url.URL, cfg Config, ownClient bool) (*HTTP, error) {
	s := &HTTP{url: u.String(), cfg: cfg, ownClient: ownClient, size: -1}
	err := s.retry(ctx, "probe size", func(ctx context.Context) (bool, error) {
		resp, err := s.get(ctx, "bytes=0-0")
		if err != nil {
			return false, err
		}
		defer func() { _ = resp.Body.Close() }() // read side: nothing to lose
		switch resp.StatusCode {
		case http.StatusPartialContent:
			_, _, total, err := parseContentRange(resp.Header.Get("Content-Range"))
			if err != nil || total < 1 {
				return false, fmt.Errorf("%w: probe of %s: Content-Range %q", ErrChanged, s.url, resp.Header.Get("Content-Range"))
			}
			s.size = total
		case http.StatusOK:
			if resp.ContentLength < 0 {
				return false, fmt.Errorf("source: %s: origin supports no ranges and sends no Content-Length", s.url)
			}
			s.size = resp.ContentLength
		case http.StatusRequestedRangeNotSatisfiable:
			if cr := resp.Header.Get("Content-Range"); cr != "bytes */0" {
				return false, fmt.Errorf("%w: probe of %s: 416 with Content-Range %q", ErrChanged, s.url, cr)
			}
			s.size = 0
		default:
			return false, &StatusError{URL: s.url, Code: resp.StatusCode, Status: resp.Status}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// URL implements Source.
func (s *HTTP) URL() string { return s.url }

// Size implements Source.
func (s *HTTP) Size() int64 { return s.size }

// Close implements Source. It closes the idle connections of the client
// Open made; a client passed in Config is the caller's to manage.
func (s *HTTP) Close() error {
	if s.ownClient {
		s.cfg.Client.CloseIdleConnections()
	}
	return nil
}

// ReadRange implements Source. Each attempt asks for the bytes not yet
// delivered, so a retry after a body cut short resumes where it stopped.
func (s *HTTP) ReadRange(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
	if err := checkRange(off, n, s.size); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	ew := &errWriter{w: w}
	var done int64
	err := s.retry(ctx, fmt.Sprintf("read [%d, %d)", off, off+n), func(ctx context.Context) (bool, error) {
		before := done
		err := s.readOnce(ctx, off+done, n-done, ew, &done)
		return done > before, err
	})
	return done, err
}

// readOnce makes one request for [off, off+n) and copies the body to ew,
// adding the bytes written to *done.
func (s *HTTP) readOnce(ctx context.Context, off, n int64, ew *errWriter, done *int64) error {
	last := off + n - 1
	resp, err := s.get(ctx, fmt.Sprintf("bytes=%d-%d", off, last))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read side: nothing to lose
	body := io.Reader(resp.Body)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		first, end, total, err := parseContentRange(cr)
		if err != nil || first != off || end != last || total != s.size {
			return fmt.Errorf("%w: %s: asked for bytes %d-%d/%d, got Content-Range %q", ErrChanged, s.url, off, last, s.size, cr)
		}
	case http.StatusOK:
		// The origin ignored Range and sends the whole object: skip to
		// the range. Costly for late ranges, but correct.
		if resp.ContentLength >= 0 && resp.ContentLength != s.size {
			return fmt.Errorf("%w: %s: whole object is %d bytes now, was %d", ErrChanged, s.url, resp.ContentLength, s.size)
		}
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return fmt.Errorf("source: %s: skip to %d: %w", s.url, off, eofIsUnexpected(err))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%w: %s: range %d-%d not satisfiable (object shrank?)", ErrChanged, s.url, off, last)
	default:
		return &StatusError{URL: s.url, Code: resp.StatusCode, Status: resp.Status}
	}
	got, err := io.CopyN(ew, body, n)
	*done += got
	if ew.err != nil {
		return &writerError{err: ew.err}
	}
	if err != nil {
		return fmt.Errorf("source: %s: body: %w", s.url, eofIsUnexpected(err))
	}
	return nil
}

// writerError carries an error of the caller's writer through retry,
// which must not retry it; ReadRange unwraps it.
type writerError struct{ err error }

func (e *writerError) Error() string { return e.err.Error() }
func (e *writerError) Unwrap() error { return e.err }

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// get sends a GET with a Range header. The response's body must be closed.
// The response and every body read that returns bytes count as progress
// for the attempt's watchdog.
func (s *HTTP) get(ctx context.Context, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	req.Header.Set("Range", rng)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	watch(ctx, resp)
	return resp, nil
}

// retry runs attempt until it succeeds, fails for good, or fails
// Config.Attempts times in a row without progress. Each attempt runs under
// a context that is cancelled if the attempt makes no progress for
// Config.Timeout (see watchdog); attempt reports whether it delivered any
// bytes, which resets the count of failures.
func (s *HTTP) retry(ctx context.Context, what string, attempt func(context.Context) (bool, error)) error {
	failures := 0
	for {
		actx, cancel := context.WithCancelCause(ctx)
		wd := newWatchdog(s.cfg.Timeout, cancel)
		progress, err := attempt(withWatchdog(actx, wd))
		wd.stop()
		stalled := errors.Is(context.Cause(actx), ErrTimeout)
		cancel(nil)
		if err == nil {
			return nil
		}
		if stalled {
			err = fmt.Errorf("%w: no progress for %v: %w", ErrTimeout, s.cfg.Timeout, err)
		}
		if !retryable(ctx, err) {
			var we *writerError
			if errors.As(err, &we) {
				return we.err
			}
			return err
		}
		if progress {
			failures = 0
		}
		failures++
		if failures >= s.cfg.Attempts {
			return fmt.Errorf("%w: %s %s: %d attempts without progress: %w", ErrGaveUp, s.url, what, failures, err)
		}
		d := s.backoff(failures)
		s.cfg.Logger.Info("source: retrying", "url", s.url, "op", what, "attempt", failures+1, "delay", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("source: %s %s: %w (last error: %w)", s.url, what, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff returns the delay before retry number n (from 1): BaseDelay
// doubled n-1 times, capped at MaxDelay, with "equal jitter" (a random
// point in the upper half) so that many daemons do not retry in step.
func (s *HTTP) backoff(n int) time.Duration {
	d := s.cfg.MaxDelay
	if n-1 < 30 {
		d = min(d, s.cfg.BaseDelay<<(n-1))
	}
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether err may go away on another attempt.
func retryable(ctx context.Context, err error) bool {
	var se *StatusError
	var we *writerError
	switch {
	case ctx.Err() != nil: // the caller gave up
		return false
	case errors.As(err, &we), errors.Is(err, ErrChanged), errors.Is(err, ErrRange):
		return false
	case errors.As(err, &se):
		return se.Temporary()
	}
	// Connection refused or reset, a body cut short, a stall, TLS
	// trouble: the network's problems are worth another try.
	return true
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" (TOTAL may not be
// "*": pollen needs the size).
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := fmt.Errorf("bad Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	total, err3 := strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, bad
	}
	return first, last, total, nil
}
