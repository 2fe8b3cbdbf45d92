// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package datapath

import (
	"io"
	"os"
	"syscall"
)

// On other platforms the download paths fall back to portable buffered
// copies (counting calls, not system calls) and the streaming paths are
// unsupported: pollen's data path targets Linux.

// ReadWrite sends the file range [off, off+n) to dst with buffered reads
// and writes.
func ReadWrite(dst syscall.Conn, src *os.File, off, n int64, buf []byte, c *Counts) (int64, error) {
	w, ok := dst.(io.Writer)
	if !ok {
		return 0, ErrUnsupported
	}
	return copyCounted(w, io.NewSectionReader(src, off, n), n, c)
}

// MmapWrite is [ReadWrite] on this platform.
func MmapWrite(dst syscall.Conn, src *os.File, off, n int64, chunk int, c *Counts) (int64, error) {
	return ReadWrite(dst, src, off, n, make([]byte, chunk), c)
}

// Sendfile is not handled on this platform.
func Sendfile(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	return 0, false, nil
}

// Splice is not handled on this platform.
func Splice(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	return 0, false, nil
}

// ReadDiscard reads n bytes from src and drops them.
func ReadDiscard(src syscall.Conn, n int64, buf []byte, c *Counts) (int64, error) {
	r, ok := src.(io.Reader)
	if !ok {
		return 0, ErrUnsupported
	}
	return copyCounted(io.Discard, r, n, c)
}

// ReadWriteFile reads n bytes from src and writes them to dst at off.
func ReadWriteFile(dst *os.File, off int64, src syscall.Conn, n int64, buf []byte, c *Counts) (int64, error) {
	r, ok := src.(io.Reader)
	if !ok {
		return 0, ErrUnsupported
	}
	return copyCounted(io.NewOffsetWriter(dst, off), r, n, c)
}

// SpliceToFile is not handled on this platform.
func SpliceToFile(dst *os.File, off int64, src syscall.Conn, n int64, c *Counts) (int64, bool, error) {
	return 0, false, nil
}

// StreamCopy is unsupported on this platform.
func StreamCopy(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	return 0, ErrUnsupported
}

// StreamWritev is unsupported on this platform.
func StreamWritev(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	return 0, ErrUnsupported
}

// StreamSendmmsg is unsupported on this platform.
func StreamSendmmsg(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	return 0, ErrUnsupported
}

// StreamGSO is not handled on this platform.
func StreamGSO(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, bool, error) {
	return 0, false, nil
}

// StreamSendfile is not handled on this platform.
func StreamSendfile(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	return 0, false, nil
}

// StreamSendfileHeader is unsupported on this platform.
func StreamSendfileHeader(dst syscall.Conn, src *os.File, off, n int64, first Header, c *Counts) (int64, error) {
	return 0, ErrUnsupported
}

// ReceiveDatagrams is unsupported on this platform.
func ReceiveDatagrams(src syscall.Conn, max int64, fn func([]byte) error, c *Counts) error {
	return ErrUnsupported
}

func mapRange(src *os.File, off, n int64, c *Counts) ([]byte, func() error, error) {
	return nil, nil, ErrUnsupported
}

func threadCPU() (user, sys float64) { return 0, 0 }

func growReceiveBuffer(fd uintptr, size int) {}
