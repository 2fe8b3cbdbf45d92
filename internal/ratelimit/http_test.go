// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package ratelimit

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestPacedResponse serves a real file through http.ServeContent on a
// loopback server and checks the body, the byte count, and that a file
// body goes out through the response's ReadFrom in whole chunks (the
// sendfile path), not through 32 KiB io.Copy writes.
func TestPacedResponse(t *testing.T) {
	const size = 1<<20 + 12345
	data := make([]byte, size)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		bucket    *Bucket
		chunk     int64
		transfers int64
	}{
		// 256 MiB/s: paced, but fast enough for a test.
		{"paced", ForChunks(256<<20, 64<<10), 64 << 10, (size + 64<<10 - 1) / (64 << 10)},
		{"unpaced", nil, 64 << 10, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var bytesSent, transfers atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				f, err := os.Open(path)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				pw := PacedResponse(r.Context(), w, tt.bucket, tt.chunk, func(n int64) {
					bytesSent.Add(n)
					transfers.Add(1)
				})
				http.ServeContent(pw, r, "f", time.Time{}, f)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || !bytes.Equal(body, data) {
				t.Fatalf("body: %d bytes, err %v; want the file's %d bytes", len(body), err, size)
			}
			srv.Close() // the handler has returned
			if got := bytesSent.Load(); got != size {
				t.Errorf("counted %d bytes, want %d", got, size)
			}
			if got := transfers.Load(); got != tt.transfers {
				t.Errorf("%d transfers, want %d", got, tt.transfers)
			}
		})
	}
}

// TestPacedResponseWrite checks the Write path: chunks of at most chunk
// bytes, every byte counted.
func TestPacedResponseWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	var calls, total int64
	pw := PacedResponse(t.Context(), rec, ForChunks(1<<30, 1000), 1000, func(n int64) {
		calls++
		total += n
	})
	data := bytes.Repeat([]byte("x"), 4500)
	if n, err := pw.Write(data); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if calls != 5 || total != 4500 || rec.Body.Len() != 4500 {
		t.Fatalf("%d writes of %d bytes, body %d; want 5 of 4500", calls, total, rec.Body.Len())
	}
}
