// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/ratelimit"
)

// origin is the demo's HTTP origin: it serves one file with Range support,
// its upload shared by all requests and capped at a rate, and counts the
// body bytes it sends.
type origin struct {
	srv    *http.Server
	ln     net.Listener
	file   *os.File
	path   string // URL path of the file
	bucket *ratelimit.Bucket
	served atomic.Int64
}

// newOrigin listens on a loopback port and prepares to serve file at
// rate bytes per second (0: unlimited).
func newOrigin(file *os.File, rate int64) (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	fi, err := file.Stat()
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("origin: %w", err)
	}
	o := &origin{ln: ln, file: file, path: "/demo.bin", bucket: newBucket(rate)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+o.path, func(w http.ResponseWriter, r *http.Request) {
		pw := ratelimit.PacedResponse(r.Context(), w, o.bucket, chunk, func(n int64) { o.served.Add(n) })
		http.ServeContent(pw, r, "demo.bin", fi.ModTime(), io.NewSectionReader(file, 0, fi.Size()))
	})
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return o, nil
}

// url returns the file's URL.
func (o *origin) url() string { return "http://" + o.ln.Addr().String() + o.path }

// serve serves until ctx is done, then shuts the server down.
func (o *origin) serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- o.srv.Serve(o.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("origin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := o.srv.Shutdown(sctx); err != nil {
		_ = o.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("origin: %w", err)
	}
	return nil
}

// chunk is the most bytes written after one wait: small enough that
// concurrent responses share the link fairly.
const chunk = 32 << 10

// newBucket paces an origin at rate bytes/s (nil: unlimited).
func newBucket(rate int64) *ratelimit.Bucket { return ratelimit.ForChunks(rate, chunk) }
