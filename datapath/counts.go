// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrUnsupported is returned by a path this platform does not have.
var ErrUnsupported = errors.New("datapath: path not supported on this platform")

// Counts is what a transfer cost in the currency the assessment used:
// system calls and bytes. The zero value is empty. A Counts belongs to one
// transfer and is not safe for concurrent use.
type Counts struct {
	// Syscalls counts the data-path system calls made: read, pread, write,
	// pwrite, writev, sendto, sendmsg, sendmmsg, recvmmsg, sendfile, splice,
	// mmap and munmap, including calls that returned EAGAIN. Set-up calls
	// (pipe2, fcntl, close) and the Go runtime's own (epoll, futex) are not
	// counted.
	Syscalls int64
	// Bytes counts payload bytes moved: without headers for datagrams
	// sent, whole datagrams for datagrams received.
	Bytes int64
	// Packets counts datagrams sent or received.
	Packets int64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Syscalls += o.Syscalls
	c.Bytes += o.Bytes
	c.Packets += o.Packets
}

// Upload is a server-side download path: it sends the file range
// [off, off+n) to a stream socket such as a *net.TCPConn.
type Upload struct {
	// Name is the path's short name ("sendfile"); the bench case is
	// "download-" + Name.
	Name string
	// Copies is how often the CPU copies each payload byte on this side.
	Copies float64
	// Send moves the range and returns the bytes sent.
	Send func(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, error)
}

// Download is a client-side download path: it takes n bytes from a stream
// socket and sinks them (discarded, or written to dst at off).
type Download struct {
	// Name is the path's short name ("splice-file"); the bench case is
	// "receive-" + Name.
	Name string
	// Copies is how often the CPU copies each payload byte on this side.
	Copies float64
	// Receive moves up to n bytes and returns the bytes received. dst may
	// be nil for a path that discards.
	Receive func(dst *os.File, off int64, src syscall.Conn, n int64, c *Counts) (int64, error)
}

// Uploads returns every server-side path, slowest-looking first.
func Uploads() []Upload {
	return []Upload{
		{Name: "readwrite-32k", Copies: 2, Send: readWriteSize(32 << 10)},
		{Name: "readwrite-1m", Copies: 2, Send: readWriteSize(1 << 20)},
		{Name: "mmap", Copies: 1, Send: func(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, error) {
			return MmapWrite(dst, src, off, n, 1<<20, c)
		}},
		{Name: "sendfile", Copies: 0, Send: mustHandle(Sendfile)},
		{Name: "splice", Copies: 0, Send: mustHandle(Splice)},
	}
}

// Downloads returns every client-side path.
func Downloads() []Download {
	return []Download{
		{Name: "discard", Copies: 1, Receive: func(_ *os.File, _ int64, src syscall.Conn, n int64, c *Counts) (int64, error) {
			return ReadDiscard(src, n, make([]byte, 1<<20), c)
		}},
		{Name: "readwrite-file", Copies: 2, Receive: func(dst *os.File, off int64, src syscall.Conn, n int64, c *Counts) (int64, error) {
			return ReadWriteFile(dst, off, src, n, make([]byte, 1<<20), c)
		}},
		{Name: "splice-file", Copies: 1, Receive: func(dst *os.File, off int64, src syscall.Conn, n int64, c *Counts) (int64, error) {
			m, handled, err := SpliceToFile(dst, off, src, n, c)
			if !handled {
				return 0, ErrUnsupported
			}
			return m, err
		}},
	}
}

func readWriteSize(size int) func(syscall.Conn, *os.File, int64, int64, *Counts) (int64, error) {
	return func(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, error) {
		return ReadWrite(dst, src, off, n, make([]byte, size), c)
	}
}

// mustHandle turns a path with a fallback into one that fails when the
// platform lacks it, so the bench never measures a fallback under the
// wrong name.
func mustHandle(f func(syscall.Conn, *os.File, int64, int64, *Counts) (int64, bool, error)) func(syscall.Conn, *os.File, int64, int64, *Counts) (int64, error) {
	return func(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, error) {
		m, handled, err := f(dst, src, off, n, c)
		if !handled {
			return 0, ErrUnsupported
		}
		return m, err
	}
}

// SendFile sends the file range [off, off+n) to dst by the fastest path
// `pollen bench datapath` found for uploads from the page cache: sendfile,
// falling back to pread+write with a 1 MiB buffer when dst has no
// descriptor or the kernel refuses. It is what pollen's uploads use.
func SendFile(dst io.Writer, src *os.File, off, n int64, c *Counts) (int64, error) {
	sc, ok := dst.(syscall.Conn)
	if ok {
		m, handled, err := Sendfile(sc, src, off, n, c)
		if handled {
			return m, err
		}
		return ReadWrite(sc, src, off, n, make([]byte, 1<<20), c)
	}
	return copyCounted(dst, io.NewSectionReader(src, off, n), n, c)
}

// ReceiveFile writes n bytes from src into dst at off by the fastest path
// measured for downloads into a file: splice through a pipe, falling back
// to read+pwrite with a 1 MiB buffer. It is what pollen's piece downloads
// use.
func ReceiveFile(dst *os.File, off int64, src io.Reader, n int64, c *Counts) (int64, error) {
	if sc, ok := src.(syscall.Conn); ok {
		m, handled, err := SpliceToFile(dst, off, sc, n, c)
		if handled {
			return m, err
		}
		return ReadWriteFile(dst, off, sc, n, make([]byte, 1<<20), c)
	}
	return copyCounted(io.NewOffsetWriter(dst, off), src, n, c)
}

// copyCounted is the portable fallback: a buffered copy of exactly n bytes
// that counts each Read and Write call as one system call.
func copyCounted(dst io.Writer, src io.Reader, n int64, c *Counts) (int64, error) {
	buf := make([]byte, min(n, 1<<20))
	var done int64
	for done < n {
		m, rerr := src.Read(buf[:min(int64(len(buf)), n-done)])
		c.Syscalls++
		if m > 0 {
			w, werr := dst.Write(buf[:m])
			c.Syscalls++
			done += int64(w)
			c.Bytes += int64(w)
			if werr != nil {
				return done, fmt.Errorf("datapath: write: %w", werr)
			}
		}
		if rerr == io.EOF {
			if done < n {
				return done, io.ErrUnexpectedEOF
			}
			break
		}
		if rerr != nil {
			return done, fmt.Errorf("datapath: read: %w", rerr)
		}
	}
	return done, nil
}
