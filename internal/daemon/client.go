// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// Client talks to a daemon's local API over its Unix socket. It has the
// daemon's download surface, so `pollen get` drives a local daemon and an
// in-process one the same way. A Client is safe for concurrent use; its
// zero value is not usable, call [NewClient].
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the daemon listening on socket. It does
// not connect until used.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
		MaxIdleConns:       4,
		IdleConnTimeout:    30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Ping reports whether a daemon answers on the socket.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Stats(ctx)
	return err
}

// Stats returns the daemon's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://pollen/v1/stats", nil)
	if err != nil {
		return s, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return s, fmt.Errorf("daemon: client: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("daemon: client: stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// Download asks the daemon for req and returns the transfer once the
// daemon accepted it. A relative req.Output is made absolute here (the
// daemon has its own working directory). ctx bounds the whole transfer;
// cancelling it, or [Transfer.Cancel], closes the stream and the daemon
// drops the transfer.
func (c *Client) Download(ctx context.Context, req Request) (*Transfer, error) {
	if req.Output != "" {
		abs, err := filepath.Abs(req.Output)
		if err != nil {
			return nil, fmt.Errorf("%w: output: %w", ErrBadRequest, err)
		}
		req.Output = abs
	}
	resp, stop, err := c.post(ctx, "/v1/download", "download", req)
	if err != nil {
		return nil, err
	}
	tr := &Transfer{
		started: time.Now(),
		done:    make(chan struct{}),
		stop:    stop,
		final:   Progress{State: StateRunning},
	}
	go tr.readStream(resp)
	return tr, nil
}

// readStream follows the daemon's progress lines until the final one. It
// is the client transfer's only goroutine; it ends when the stream does
// (Cancel closes it).
func (tr *Transfer) readStream(resp *http.Response) {
	defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var last apiProgress
	for sc.Scan() {
		var p apiProgress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			continue
		}
		last = p
		if p.State != StateRunning {
			var err error
			if p.State != StateDone {
				err = restoreError(p.Code, p.Error)
			}
			tr.end(p.Progress, err)
			return
		}
		tr.mu.Lock()
		tr.final = p.Progress
		tr.mu.Unlock()
	}
	err := sc.Err()
	if err == nil {
		err = errors.New("daemon: client: stream ended without a result")
	}
	last.State = StateFailed
	if errors.Is(err, context.Canceled) {
		last.State = StateCanceled
		err = ErrCanceled
	}
	last.Error = err.Error()
	tr.end(last.Progress, fmt.Errorf("daemon: client: %w", err))
}

// restoreError turns an API error back into an error that matches the
// daemon's sentinel.
func restoreError(code, text string) error {
	for _, c := range errorCodes {
		if c.code == code {
			return &remoteError{sentinel: c.err, text: text}
		}
	}
	return &remoteError{text: text}
}

// post sends req to the API at path and returns the accepted response and
// the function that ends it (cancels the request's context); a refusal is
// returned as the daemon's error, restored to its sentinel. ctx bounds the
// whole exchange, body included.
func (c *Client) post(ctx context.Context, path, what string, req Request) (*http.Response, context.CancelFunc, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://pollen"+path, bytes.NewReader(body))
	if err != nil {
		stop()
		return nil, nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("daemon: client: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
		defer stop()
		var ae apiError
		if json.NewDecoder(resp.Body).Decode(&ae) != nil || ae.Error == "" {
			return nil, nil, fmt.Errorf("daemon: client: %s: %s", what, resp.Status)
		}
		return nil, nil, restoreError(ae.Code, ae.Error)
	}
	return resp, stop, nil
}

// remoteError is an error reported by the daemon over the local API.
type remoteError struct {
	sentinel error
	text     string
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.sentinel }

// Stream asks the daemon for a stream-mode download of req (see
// [Daemon.Stream]) and returns the stream once the daemon accepted it.
// The bytes come over the local API as the daemon's window fills; a
// failure after the first byte is reported at the end (the response's
// trailer), so a stream that stops early never looks complete. ctx bounds
// the whole stream.
func (c *Client) Stream(ctx context.Context, req Request) (*Stream, error) {
	resp, stop, err := c.post(ctx, "/v1/stream", "stream", req)
	if err != nil {
		return nil, err
	}
	size, err := strconv.ParseInt(resp.Header.Get(headerSize), 10, 64)
	if err != nil || size < 0 {
		_ = resp.Body.Close()
		stop()
		return nil, fmt.Errorf("daemon: client: stream: bad %s header %q", headerSize, resp.Header.Get(headerSize))
	}
	rb := &remoteBody{resp: resp, size: size}
	return &Stream{size: size, body: rb, close: func() {
		stop()
		_ = resp.Body.Close()
	}}, nil
}

// remoteBody reads a stream from the local API's response and turns its
// trailer into the end of the stream.
type remoteBody struct {
	resp *http.Response
	size int64

	mu     sync.Mutex // guards the following fields
	n      int64      // bytes read
	final  error      // sticky end: io.EOF or the error
	sum    core.Digest
	summed bool
}

func (b *remoteBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.final != nil {
		return 0, b.final
	}
	n, err := b.resp.Body.Read(p)
	b.n += int64(n)
	switch {
	case err == nil:
		if b.n > b.size {
			err = fmt.Errorf("daemon: client: stream: more than the %d bytes announced", b.size)
			b.final = err
		}
		return n, err
	case errors.Is(err, io.EOF):
		b.final = b.endLocked()
	case errors.Is(err, context.Canceled):
		b.final = fmt.Errorf("%w: %w", ErrCanceled, err)
	default:
		b.final = fmt.Errorf("daemon: client: stream: %w", err)
	}
	return n, b.final
}

// endLocked checks the trailer at the end of the body.
func (b *remoteBody) endLocked() error {
	tr := b.resp.Trailer
	if text := tr.Get(trailerErr); text != "" {
		return restoreError(tr.Get(trailerCode), text)
	}
	if b.n != b.size {
		return fmt.Errorf("daemon: client: stream ended after %d of %d bytes", b.n, b.size)
	}
	sum, err := core.ParseDigest(tr.Get(trailerSum))
	if err != nil {
		return fmt.Errorf("daemon: client: stream ended without a result: %w", err)
	}
	b.sum, b.summed = sum, true
	return io.EOF
}

func (b *remoteBody) WriteTo(w io.Writer) (int64, error) {
	// Both ends wrapped: every byte goes through Read's accounting, and
	// in 256 KiB writes rather than a ReadFrom's own buffer.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b}, make([]byte, 256<<10))
}

func (b *remoteBody) digest() (core.Digest, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sum, b.summed
}
