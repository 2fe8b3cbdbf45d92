// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// object is the test origin's content.
var object = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20+17)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// fastConfig retries quickly so that tests of the retry budget are short.
func fastConfig() Config {
	return Config{Timeout: 2 * time.Second, Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

// serve starts a loopback origin whose handler may inject failures before
// handing the request to http.ServeContent (which implements Range).
func serve(t *testing.T, inject func(w http.ResponseWriter, r *http.Request, n int) bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(count.Add(1))
		if inject != nil && inject(w, r, n) {
			return
		}
		http.ServeContent(w, r, "object", time.Time{}, bytes.NewReader(object))
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func open(t *testing.T, rawURL string, cfg Config) Source {
	t.Helper()
	s, err := Open(context.Background(), rawURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkRanges reads assorted ranges and compares them with object.
func checkRanges(t *testing.T, s Source) {
	t.Helper()
	if s.Size() != int64(len(object)) {
		t.Fatalf("Size = %d, want %d", s.Size(), len(object))
	}
	size := int64(len(object))
	for _, r := range [][2]int64{{0, 1}, {0, size}, {1000, 4096}, {size - 1, 1}, {size - 5000, 5000}, {17, 0}} {
		var buf bytes.Buffer
		n, err := s.ReadRange(context.Background(), r[0], r[1], &buf)
		if err != nil || n != r[1] || !bytes.Equal(buf.Bytes(), object[r[0]:r[0]+r[1]]) {
			t.Fatalf("ReadRange(%d, %d) = %d, %v (bytes match: %v)", r[0], r[1], n, err, bytes.Equal(buf.Bytes(), object[r[0]:r[0]+r[1]]))
		}
	}
	for _, r := range [][2]int64{{-1, 1}, {size, 1}, {0, size + 1}, {5, -1}} {
		if _, err := s.ReadRange(context.Background(), r[0], r[1], io.Discard); !errors.Is(err, ErrRange) {
			t.Errorf("ReadRange(%d, %d) = %v, want ErrRange", r[0], r[1], err)
		}
	}
}

func TestHTTPRanges(t *testing.T) {
	srv, _ := serve(t, nil)
	checkRanges(t, open(t, srv.URL+"/object", fastConfig()))
}

// TestHTTPNoRangeSupport: an origin that answers every Range request with
// the whole object (200) still yields the right bytes.
func TestHTTPNoRangeSupport(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.Header().Set("Content-Length", fmt.Sprint(len(object)))
		_, _ = w.Write(object)
		return true
	})
	checkRanges(t, open(t, srv.URL, fastConfig()))
}

func TestHTTPEmptyObject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "empty", time.Time{}, bytes.NewReader(nil))
	}))
	defer srv.Close()
	s := open(t, srv.URL, fastConfig())
	if s.Size() != 0 {
		t.Fatalf("Size = %d", s.Size())
	}
	if n, err := s.ReadRange(context.Background(), 0, 0, io.Discard); n != 0 || err != nil {
		t.Fatalf("ReadRange(0, 0) = %d, %v", n, err)
	}
}

// TestHTTPRetry500: two 500s, then the origin recovers.
func TestHTTPRetry500(t *testing.T) {
	fail := atomic.Int32{}
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if fail.Add(-1) >= 0 {
			http.Error(w, "try later", http.StatusInternalServerError)
			return true
		}
		return false
	})
	fail.Store(2)
	s := open(t, srv.URL, fastConfig())
	if count.Load() != 3 {
		t.Fatalf("probe took %d requests, want 3", count.Load())
	}
	fail.Store(2)
	var buf bytes.Buffer
	if _, err := s.ReadRange(context.Background(), 100, 1000, &buf); err != nil || !bytes.Equal(buf.Bytes(), object[100:1100]) {
		t.Fatalf("ReadRange after 500s: %v", err)
	}
	if count.Load() != 6 {
		t.Fatalf("%d requests, want 6", count.Load())
	}
}

// TestHTTPAlways500: the budget runs out and the error says why.
func TestHTTPAlways500(t *testing.T) {
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	cfg := fastConfig()
	_, err := Open(context.Background(), srv.URL, cfg)
	var se *StatusError
	if !errors.Is(err, ErrGaveUp) || !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("Open = %v, want ErrGaveUp wrapping a 503 *StatusError", err)
	}
	if int(count.Load()) != cfg.Attempts {
		t.Fatalf("%d requests, want %d", count.Load(), cfg.Attempts)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Fatalf("error %q does not name the status", err)
	}
}

// TestHTTPNotFound: a 4xx is not retried.
func TestHTTPNotFound(t *testing.T) {
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		http.NotFound(w, r)
		return true
	})
	_, err := Open(context.Background(), srv.URL+"/missing", fastConfig())
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound || se.Temporary() || errors.Is(err, ErrGaveUp) {
		t.Fatalf("Open = %v, want a 404 *StatusError", err)
	}
	if count.Load() != 1 {
		t.Fatalf("%d requests for a 404, want 1", count.Load())
	}
}

// TestHTTPHang: an origin that never answers is detected by the stall
// timeout, retried, and reported.
func TestHTTPHang(t *testing.T) {
	release := make(chan struct{})
	srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	defer close(release) // before srv.Close, which waits for handlers
	cfg := fastConfig()
	cfg.Timeout = 100 * time.Millisecond
	cfg.Attempts = 2
	start := time.Now()
	_, err := Open(context.Background(), srv.URL, cfg)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrGaveUp) {
		t.Fatalf("Open of a hanging origin = %v, want ErrGaveUp and ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if count.Load() != 2 {
		t.Fatalf("%d requests, want 2", count.Load())
	}
}

// TestHTTPStallMidBody: the origin sends part of a range and then hangs.
// The stall is detected and the retry asks only for the rest.
func TestHTTPStallMidBody(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var ranges []string
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if n != 2 { // request 1 is the probe
			return false
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 1000-100999/%d", len(object)))
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(object[1000:31000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	defer close(release)
	cfg := fastConfig()
	// Long enough that the healthy retry never looks stalled on a loaded
	// machine with the race detector (at 200 ms it once did, and asked
	// for the rest a third time).
	cfg.Timeout = time.Second
	s := open(t, srv.URL, cfg)
	var buf bytes.Buffer
	n, err := s.ReadRange(context.Background(), 1000, 100000, &buf)
	if err != nil || n != 100000 || !bytes.Equal(buf.Bytes(), object[1000:101000]) {
		t.Fatalf("ReadRange = %d, %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 3 || ranges[1] != "bytes=1000-100999" || ranges[2] != "bytes=31000-100999" {
		t.Fatalf("requests asked for %q", ranges)
	}
}

// TestHTTPLies covers origins that contradict themselves.
func TestHTTPLies(t *testing.T) {
	t.Run("content-range total", func(t *testing.T) {
		srv, count := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				return false
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-9/%d", len(object)+1))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(object[:10])
			return true
		})
		s := open(t, srv.URL, fastConfig())
		if _, err := s.ReadRange(context.Background(), 0, 10, io.Discard); !errors.Is(err, ErrChanged) {
			t.Fatalf("ReadRange = %v, want ErrChanged", err)
		}
		if count.Load() != 2 {
			t.Fatalf("%d requests, want 2 (no retry)", count.Load())
		}
	})
	t.Run("short body", func(t *testing.T) {
		// Claims 100 bytes, sends 50, closes: retried, then given up.
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				return false
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-99/%d", len(object)))
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(object[:50])
			return true
		})
		s := open(t, srv.URL, fastConfig())
		var buf bytes.Buffer
		n, err := s.ReadRange(context.Background(), 0, 100, &buf)
		// The first attempt delivers 50 bytes; each retry (asking for
		// 50-99) is refused with a wrong Content-Range.
		if !errors.Is(err, ErrChanged) || n != 50 || !bytes.Equal(buf.Bytes(), object[:50]) {
			t.Fatalf("ReadRange = %d, %v", n, err)
		}
	})
	t.Run("short body always", func(t *testing.T) {
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				return false
			}
			first, last := parseRangeHeader(r.Header.Get("Range"))
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(object)))
			w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
			w.WriteHeader(http.StatusPartialContent)
			return true // no body at all
		})
		s := open(t, srv.URL, fastConfig())
		_, err := s.ReadRange(context.Background(), 0, 100, io.Discard)
		if !errors.Is(err, ErrGaveUp) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadRange = %v, want ErrGaveUp and io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("size changed", func(t *testing.T) {
		srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				return false
			}
			http.Error(w, "", http.StatusRequestedRangeNotSatisfiable)
			return true
		})
		s := open(t, srv.URL, fastConfig())
		if _, err := s.ReadRange(context.Background(), 0, 100, io.Discard); !errors.Is(err, ErrChanged) {
			t.Fatalf("ReadRange = %v, want ErrChanged", err)
		}
	})
}

func parseRangeHeader(h string) (first, last int64) {
	_, _ = fmt.Sscanf(h, "bytes=%d-%d", &first, &last)
	return first, last
}

// failWriter fails after n bytes, as a full disk would.
type failWriter struct{ n int }

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errDisk
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriterErrorNotRetried: the caller's write error ends the read at
// once and comes back unchanged.
func TestWriterErrorNotRetried(t *testing.T) {
	srv, count := serve(t, nil)
	s := open(t, srv.URL, fastConfig())
	n, err := s.ReadRange(context.Background(), 0, 100000, &failWriter{n: 5000})
	if !errors.Is(err, errDisk) || errors.Is(err, ErrGaveUp) || n != 5000 {
		t.Fatalf("ReadRange = %d, %v", n, err)
	}
	if count.Load() != 2 {
		t.Fatalf("%d requests, want 2", count.Load())
	}
	fs := open(t, fileURL(t), fastConfig())
	if _, err := fs.ReadRange(context.Background(), 0, 100000, &failWriter{n: 5000}); !errors.Is(err, errDisk) {
		t.Fatalf("file ReadRange = %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	srv, _ := serve(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			return false
		}
		http.Error(w, "down", http.StatusBadGateway)
		return true
	})
	cfg := fastConfig()
	cfg.BaseDelay, cfg.MaxDelay, cfg.Attempts = time.Hour, time.Hour, 100
	s := open(t, srv.URL, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.ReadRange(ctx, 0, 10, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("ReadRange = %v after %v", err, time.Since(start))
	}
}

func fileURL(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "object")
	if err := os.WriteFile(path, object, 0o644); err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: path}).String()
}

func TestFile(t *testing.T) {
	u := fileURL(t)
	s := open(t, u, Config{})
	checkRanges(t, s)
	if s.URL() != u {
		t.Fatalf("URL = %q", s.URL())
	}
	// The file shrinks under the source.
	path, _ := url.Parse(u)
	if err := os.Truncate(path.Path, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadRange(context.Background(), 50, 100, io.Discard); !errors.Is(err, ErrChanged) {
		t.Fatalf("ReadRange of a shrunk file = %v, want ErrChanged", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url  string
		want error
	}{
		{"ftp://x/y", ErrUnsupported},
		{"file://otherhost/etc/passwd", ErrUnsupported},
		{"file://" + filepath.Join(dir, "missing"), os.ErrNotExist},
		{"::not a url", ErrUnsupported},
	} {
		if _, err := Open(context.Background(), tc.url, Config{}); !errors.Is(err, tc.want) {
			t.Errorf("Open(%q) = %v, want %v", tc.url, err, tc.want)
		}
	}
	if _, err := Open(context.Background(), "file://"+dir, Config{}); err == nil {
		t.Error("Open of a directory succeeded")
	}
	if _, err := Open(context.Background(), "file:///x", Config{Attempts: -1}); err == nil {
		t.Error("negative Attempts accepted")
	}
}

func TestParseContentRange(t *testing.T) {
	if a, b, c, err := parseContentRange("bytes 0-0/10"); err != nil || a != 0 || b != 0 || c != 10 {
		t.Fatalf("= %d %d %d %v", a, b, c, err)
	}
	for _, bad := range []string{"", "bytes */10", "bytes 5-4/10", "bytes 0-9/9", "bytes 0-9/*", "items 0-1/2", "bytes -1-2/5", "bytes 0-1"} {
		if _, _, _, err := parseContentRange(bad); err == nil {
			t.Errorf("parseContentRange(%q) succeeded", bad)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &HTTP{cfg: Config{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}}
	for n, hi := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 80: time.Second} {
		for range 100 {
			if d := s.backoff(n); d < hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
}
