// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/ratelimit"

	"github.com/pollen-dev/pollen/internal/core"
)

// OriginStats counts what an [Origin] served: the pusher's data path.
type OriginStats struct {
	Requests int64 // HTTP requests for a file (size probes included)
	Bytes    int64 // body bytes sent
	// Sends counts the body transfers handed to the kernel: each is one
	// sendfile loop on the connection (ReadFrom of the file) or one
	// write when the body was copied. It grows with pieces, not bytes.
	Sends int64
}

// Origin serves the pushed files over HTTP with Range support: it is the
// swarm's source. Each file lives under an unguessable path
// (/push/<128-bit random>/<task>), a capability, since the daemons' HTTP
// source sends no credentials. Bodies go out with sendfile (the file is
// opened per request and handed to the connection's ReadFrom), paced by
// an optional upload rate shared by all requests. It is safe for
// concurrent use.
type Origin struct {
	ln     net.Listener
	srv    *http.Server
	prefix string
	bucket *ratelimit.Bucket

	mu    sync.Mutex // guards files
	files map[string]string

	requests, bytes, sends atomic.Int64
}

// NewOrigin listens on addr (host:port; port 0 picks one) and serves at
// most rate bytes per second in total (0: unlimited). Nothing is served
// until [Origin.Serve].
func NewOrigin(addr string, rate int64) (*Origin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("push: origin: %w", err)
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	o := &Origin{
		ln: ln, prefix: "/push/" + hex.EncodeToString(secret[:]) + "/",
		bucket: ratelimit.ForChunks(rate, chunk), files: map[string]string{},
	}
	o.srv = &http.Server{Handler: http.HandlerFunc(o.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	return o, nil
}

// Port returns the port the origin listens on.
func (o *Origin) Port() int { return o.ln.Addr().(*net.TCPAddr).Port }

// Add serves the file at p as task and returns its URL path.
func (o *Origin) Add(task core.TaskID, p string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	up := o.prefix + string(task)
	o.files[up] = p
	return up
}

// Stats returns the counters.
func (o *Origin) Stats() OriginStats {
	return OriginStats{Requests: o.requests.Load(), Bytes: o.bytes.Load(), Sends: o.sends.Load()}
}

// Serve serves until ctx is done or the origin is closed.
func (o *Origin) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = o.srv.Close() })
	defer stop()
	if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("push: origin: %w", err)
	}
	return nil
}

// Close stops serving and closes the connections. It is idempotent.
func (o *Origin) Close() error {
	_ = o.srv.Close()
	_ = o.ln.Close() // if Serve never ran
	return nil
}

func (o *Origin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	p, ok := o.files[r.URL.Path]
	o.mu.Unlock()
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	o.requests.Add(1)
	// A file per request: ServeContent seeks, and sendfile uses the
	// file's offset, so requests must not share one.
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, "file gone", http.StatusGone)
		return
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "file gone", http.StatusGone)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	pw := ratelimit.PacedResponse(r.Context(), w, o.bucket, chunk, o.counted)
	http.ServeContent(pw, r, path.Base(r.URL.Path), fi.ModTime(), f)
}

// chunk is the most bytes sent after one wait of a paced origin: small
// enough that concurrent responses share the link fairly.
const chunk = 64 << 10

// counted records one body transfer of n bytes.
func (o *Origin) counted(n int64) {
	o.bytes.Add(n)
	o.sends.Add(1)
}
