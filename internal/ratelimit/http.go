// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package ratelimit

import (
	"context"
	"io"
	"net/http"
)

// ForChunks returns a bucket for rate bytes/s (nil: unlimited) that saves up
// 20 ms of traffic while idle, and at least two chunks, so that an origin
// writing chunk bytes after each wait runs at its rate.
func ForChunks(rate, chunk int64) *Bucket {
	return New(rate, max(rate/50, 2*chunk))
}

// PacedResponse wraps an HTTP response so that its body goes out in chunks
// of at most chunk bytes, each after b allows it; a nil b sends whole writes
// unpaced. Chunks keep concurrent responses sharing a paced link fairly.
// count, if not nil, is called after every transfer to the connection with
// the bytes it moved.
//
// The wrapper keeps the connection's sendfile path: when the source handed
// to ReadFrom is an *io.LimitedReader (as http.ServeContent passes) each
// chunk goes to the response's own ReadFrom, which for an *os.File is one
// sendfile loop. Waits end early, with ctx's error, when ctx is done.
func PacedResponse(ctx context.Context, w http.ResponseWriter, b *Bucket, chunk int64, count func(n int64)) http.ResponseWriter {
	return &pacedResponse{ResponseWriter: w, ctx: ctx, bucket: b, chunk: max(chunk, 1), count: count}
}

type pacedResponse struct {
	http.ResponseWriter
	ctx    context.Context
	bucket *Bucket
	chunk  int64
	count  func(n int64)
}

// size is the most bytes moved after one wait.
func (w *pacedResponse) size(n int64) int64 {
	if w.bucket == nil {
		return n
	}
	return min(n, w.chunk)
}

func (w *pacedResponse) counted(n int64) {
	if w.count != nil {
		w.count(n)
	}
}

func (w *pacedResponse) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		c := int(w.size(int64(len(p))))
		if err := w.bucket.Wait(w.ctx, int64(c)); err != nil {
			return n, err
		}
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		w.counted(int64(m))
		if err != nil {
			return n, err
		}
		p = p[c:]
	}
	return n, nil
}

func (w *pacedResponse) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		return io.Copy(writerOnly{w}, src)
	}
	var total int64
	for lr.N > 0 {
		c := w.size(lr.N)
		if err := w.bucket.Wait(w.ctx, c); err != nil {
			return total, err
		}
		n, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: c})
		lr.N -= n
		total += n
		w.counted(n)
		if err != nil {
			return total, err
		}
		if n < c {
			break // the source is shorter than announced
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom so io.Copy uses Write.
type writerOnly struct{ io.Writer }
