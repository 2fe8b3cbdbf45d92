// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The local API is HTTP/1.1 over the Unix socket Config.Socket (mode
// 0600, so only the daemon's user may talk to it):
//
//	POST /v1/download   body: a Request as JSON. Answer: 200 and a stream
//	                    of Progress objects, one JSON line every
//	                    progressEvery and a final one whose State is
//	                    done, failed or canceled. A request refused at
//	                    once gets 4xx/5xx and an apiError body. Closing
//	                    the connection cancels the transfer.
//	POST /v1/stream     body: a Request as JSON (no output). Answer: 200
//	                    with header Pollen-Size and the object's bytes in
//	                    order as they arrive (chunked, flushed per piece),
//	                    then the trailers Pollen-Sum (the verified
//	                    SHA-256) or Pollen-Error and Pollen-Code (the
//	                    stream failed after its header went out). A
//	                    request refused at once gets 4xx/5xx and an
//	                    apiError body. Closing the connection abandons
//	                    the stream.
//	GET  /v1/stats      Stats as JSON.

// progressEvery is how often the local API streams progress.
const progressEvery = 200 * time.Millisecond

// maxRequestBody bounds a request body: room for a manifest of some 200,000 piece digests.
const maxRequestBody = 16 << 20

// apiError is the body of a refused request, and Progress.Error's class.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"` // see errorCode
}

// errorCode names the sentinel in err's chain, for the client to restore.
func errorCode(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

var errorCodes = []struct {
	code string
	err  error
}{
	{"bad_request", ErrBadRequest},
	{"digest", ErrDigest},
	{"disk_full", ErrDiskFull},
	{"source", ErrSource},
	{"canceled", ErrCanceled},
	{"closed", ErrClosed},
	{"busy", ErrBusy},
}

// apiProgress is a Progress line with the error class.
type apiProgress struct {
	Progress
	Code string `json:"code,omitempty"`
}

func (d *Daemon) newAPIServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/download", d.apiDownload)
	mux.HandleFunc("POST /v1/stream", d.apiStream)
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.Stats()) // a failed write is the client's loss
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil, BaseContext: nil}
}

func (d *Daemon) apiDownload(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, errors.Join(ErrBadRequest, err))
		return
	}
	if req.Output != "" && !filepath.IsAbs(req.Output) {
		// The daemon's working directory means nothing to the client.
		writeAPIError(w, http.StatusBadRequest, fmt.Errorf("%w: output %q is not an absolute path", ErrBadRequest, req.Output))
		return
	}
	tr, err := d.Download(r.Context(), req)
	if err != nil {
		writeAPIError(w, statusOf(err), err)
		return
	}
	defer tr.Cancel() // the client left or the transfer ended
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-tr.Done():
			_ = enc.Encode(apiProgress{Progress: tr.Progress(), Code: errorCode(tr.Err())})
			_ = rc.Flush()
			return
		case <-tick.C:
			if enc.Encode(apiProgress{Progress: tr.Progress()}) != nil || rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// Stream trailers and headers of POST /v1/stream.
const (
	headerSize  = "Pollen-Size"
	trailerSum  = "Pollen-Sum"
	trailerErr  = "Pollen-Error"
	trailerCode = "Pollen-Code"
)

func (d *Daemon) apiStream(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, errors.Join(ErrBadRequest, err))
		return
	}
	s, err := d.Stream(r.Context(), req)
	if err != nil {
		writeAPIError(w, statusOf(err), err)
		return
	}
	defer func() { _ = s.Close() }() // the client left or the stream ended
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set(headerSize, strconv.FormatInt(s.Size(), 10))
	h.Set("Trailer", trailerSum+", "+trailerErr+", "+trailerCode)
	w.WriteHeader(http.StatusOK)
	_, err = s.WriteTo(flushWriter{w, http.NewResponseController(w)})
	if err != nil {
		h.Set(trailerErr, headerText(err.Error()))
		h.Set(trailerCode, errorCode(err))
		return
	}
	if sum, ok := s.Sum(); ok {
		h.Set(trailerSum, sum.String())
	}
}

// flushWriter flushes every write: a piece goes to the client as soon as
// it is the stream's next.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.rc.Flush()
}

// headerText makes s safe as an HTTP header value: one line, bounded.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// statusOf is the HTTP status of a request refused with err.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrDiskFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBusy):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

func writeAPIError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Error: err.Error(), Code: errorCode(err)})
}
