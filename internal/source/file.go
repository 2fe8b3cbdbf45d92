// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package source

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
)

// File is an object in the local file system, read with pread. It is safe
// for concurrent use.
type File struct {
	url  string
	f    *os.File
	size int64
}

// openFile opens a file:// URL. Only local paths are accepted
// (file:///path or file://localhost/path).
func openFile(u *url.URL) (*File, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: file URL with host %q", ErrUnsupported, u.Host)
	}
	if u.Path == "" {
		return nil, fmt.Errorf("%w: file URL without a path", ErrUnsupported)
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", u.Path)
	}
	if err != nil {
		_ = f.Close() // read-only
		return nil, fmt.Errorf("source: %w", err)
	}
	return &File{url: u.String(), f: f, size: fi.Size()}, nil
}

// URL implements Source.
func (s *File) URL() string { return s.url }

// Size implements Source. It is the size when the file was opened.
func (s *File) Size() int64 { return s.size }

// ReadRange implements Source. A file that shrank since it was opened
// gives an error wrapping ErrChanged.
func (s *File) ReadRange(ctx context.Context, off, n int64, w io.Writer) (int64, error) {
	if err := checkRange(off, n, s.size); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ew := &errWriter{w: w}
	got, err := io.Copy(ew, io.NewSectionReader(s.f, off, n))
	switch {
	case ew.err != nil:
		return got, ew.err
	case err != nil:
		return got, fmt.Errorf("source: read %s: %w", s.url, err)
	case got < n:
		return got, fmt.Errorf("%w: %s ends at %d, want %d bytes", ErrChanged, s.url, off+got, off+n)
	}
	return got, nil
}

// Close implements Source.
func (s *File) Close() error { return s.f.Close() }

// errWriter remembers the error of the writer it wraps, so that a failure
// to write (say, a full disk) is told apart from a failure to read.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		e.err = err
	}
	return n, err
}
