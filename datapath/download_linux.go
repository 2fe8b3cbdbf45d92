// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSendfile is the most Linux moves in one sendfile or splice call.
const maxSendfile = 0x7ffff000

// ReadWrite sends the file range [off, off+n) to dst with pread into buf
// and write from it: two copies per byte and two calls per buffer. It is the
// baseline every other download path is measured against.
func ReadWrite(dst syscall.Conn, src *os.File, off, n int64, buf []byte, c *Counts) (int64, error) {
	if len(buf) == 0 {
		return 0, fmt.Errorf("datapath: read/write: %w", io.ErrShortBuffer)
	}
	ffd := int(src.Fd())
	var sent int64
	var lo, hi int // unsent bytes in buf
	err := writeLoop(dst, func(fd int) (bool, error) {
		if lo == hi {
			if sent == n {
				return true, nil
			}
			m, err := unix.Pread(ffd, buf[:min(int64(len(buf)), n-sent)], off+sent)
			c.Syscalls++
			if err != nil {
				return false, fmt.Errorf("pread: %w", err)
			}
			if m == 0 {
				return false, io.ErrUnexpectedEOF
			}
			lo, hi = 0, m
		}
		m, err := unix.Write(fd, buf[lo:hi])
		c.Syscalls++
		if err != nil {
			return false, err
		}
		lo += m
		sent += int64(m)
		c.Bytes += int64(m)
		return false, nil
	})
	return sent, wrapOp("write", err)
}

// MmapWrite maps the file range [off, off+n) and writes it to dst in chunks
// of chunk bytes: one copy per byte (the socket's), one call per chunk plus
// mmap and munmap. The mapping's page faults are part of its cost.
func MmapWrite(dst syscall.Conn, src *os.File, off, n int64, chunk int, c *Counts) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	if chunk <= 0 {
		chunk = 1 << 20
	}
	data, unmap, err := mapRange(src, off, n, c)
	if err != nil {
		return 0, err
	}
	var sent int64
	err = writeLoop(dst, func(fd int) (bool, error) {
		if sent == n {
			return true, nil
		}
		m, err := unix.Write(fd, data[sent:min(n, sent+int64(chunk))])
		c.Syscalls++
		if err != nil {
			return false, err
		}
		sent += int64(m)
		c.Bytes += int64(m)
		return false, nil
	})
	if uerr := unmap(); err == nil && uerr != nil {
		return sent, uerr
	}
	return sent, wrapOp("write", err)
}

// Sendfile sends the file range [off, off+n) to dst with sendfile: no copy
// by the CPU, one call per socket buffer's worth. handled is false, with
// nothing sent, when dst has no descriptor or the kernel refuses the pair;
// the caller then takes a buffered path ([ReadWrite]).
func Sendfile(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	ffd := int(src.Fd())
	pos := off
	handled := true
	err := writeLoop(dst, func(fd int) (bool, error) {
		if pos-off == n {
			return true, nil
		}
		m, err := unix.Sendfile(fd, ffd, &pos, int(min(n-(pos-off), maxSendfile)))
		c.Syscalls++
		if m > 0 {
			c.Bytes += int64(m)
		}
		switch {
		case err != nil:
			if pos == off && unsupported(err) {
				handled = false
				return false, errDone
			}
			return false, err
		case m == 0:
			return false, io.ErrUnexpectedEOF
		}
		return false, nil
	})
	return pos - off, handled, wrapOp("sendfile", err)
}

// Splice sends the file range [off, off+n) to dst through a pipe with two
// splice calls per pipe-full (file → pipe, pipe → socket): no copy by the
// CPU. handled is false, with nothing sent, when dst has no descriptor or
// the kernel refuses.
func Splice(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	pr, pw, size, err := newPipe(1 << 20)
	if err != nil {
		return 0, false, err
	}
	defer closePipe(pr, pw)
	ffd := int(src.Fd())
	pos := off // next file byte to put in the pipe
	var sent int64
	var inPipe int
	handled := true
	err = writeLoop(dst, func(fd int) (bool, error) {
		if inPipe == 0 {
			if sent == n {
				return true, nil
			}
			m, err := unix.Splice(ffd, &pos, pw, nil, int(min(int64(size), n-(pos-off))), unix.SPLICE_F_MOVE)
			c.Syscalls++
			if err != nil {
				if sent == 0 && unsupported(err) {
					handled = false
					return false, errDone
				}
				return false, fmt.Errorf("splice from file: %w", err)
			}
			if m == 0 {
				return false, io.ErrUnexpectedEOF
			}
			inPipe = int(m)
		}
		flags := unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
		if pos-off < n {
			flags |= unix.SPLICE_F_MORE
		}
		m, err := unix.Splice(pr, nil, fd, nil, inPipe, flags)
		c.Syscalls++
		if err != nil {
			if sent == 0 && unsupported(err) {
				handled = false
				return false, errDone
			}
			return false, err
		}
		inPipe -= int(m)
		sent += m
		c.Bytes += m
		return false, nil
	})
	return sent, handled, wrapOp("splice to socket", err)
}

// ReadDiscard reads n bytes from src into buf and drops them: one copy per
// byte, one call per buffer. It is the cheapest client and the sink of
// the download table's server rows.
func ReadDiscard(src syscall.Conn, n int64, buf []byte, c *Counts) (int64, error) {
	if len(buf) == 0 {
		return 0, fmt.Errorf("datapath: read: %w", io.ErrShortBuffer)
	}
	var got int64
	err := readLoop(src, func(fd int) (bool, error) {
		if got == n {
			return true, nil
		}
		m, err := unix.Read(fd, buf[:min(int64(len(buf)), n-got)])
		c.Syscalls++
		if err != nil {
			return false, err
		}
		if m == 0 {
			return false, io.ErrUnexpectedEOF
		}
		got += int64(m)
		c.Bytes += int64(m)
		return false, nil
	})
	return got, wrapOp("read", err)
}

// ReadWriteFile reads n bytes from src into buf and writes them to dst at
// off: two copies per byte, two calls per buffer.
func ReadWriteFile(dst *os.File, off int64, src syscall.Conn, n int64, buf []byte, c *Counts) (int64, error) {
	if len(buf) == 0 {
		return 0, fmt.Errorf("datapath: read: %w", io.ErrShortBuffer)
	}
	ffd := int(dst.Fd())
	var got int64
	err := readLoop(src, func(fd int) (bool, error) {
		if got == n {
			return true, nil
		}
		m, err := unix.Read(fd, buf[:min(int64(len(buf)), n-got)])
		c.Syscalls++
		if err != nil {
			return false, err
		}
		if m == 0 {
			return false, io.ErrUnexpectedEOF
		}
		for w := 0; w < m; {
			k, err := unix.Pwrite(ffd, buf[w:m], off+got+int64(w))
			c.Syscalls++
			if err != nil {
				return false, fmt.Errorf("pwrite: %w", err)
			}
			w += k
		}
		got += int64(m)
		c.Bytes += int64(m)
		return false, nil
	})
	return got, wrapOp("read", err)
}

// SpliceToFile moves n bytes from src into dst at off through a pipe: the
// socket's pages go into the pipe without a copy and the kernel copies them
// once into the page cache. handled is false, with nothing received, when
// src has no descriptor or the kernel refuses.
func SpliceToFile(dst *os.File, off int64, src syscall.Conn, n int64, c *Counts) (int64, bool, error) {
	pr, pw, size, err := newPipe(1 << 20)
	if err != nil {
		return 0, false, err
	}
	defer closePipe(pr, pw)
	ffd := int(dst.Fd())
	pos := off
	var got int64
	handled := true
	err = readLoop(src, func(fd int) (bool, error) {
		if got == n {
			return true, nil
		}
		m, err := unix.Splice(fd, nil, pw, nil, int(min(int64(size), n-got)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		c.Syscalls++
		if err != nil {
			if got == 0 && unsupported(err) {
				handled = false
				return false, errDone
			}
			return false, err
		}
		if m == 0 {
			return false, io.ErrUnexpectedEOF
		}
		for left := m; left > 0; {
			k, err := unix.Splice(pr, nil, ffd, &pos, int(left), unix.SPLICE_F_MOVE)
			c.Syscalls++
			if err != nil {
				return false, fmt.Errorf("splice to file: %w", err)
			}
			left -= k
		}
		got += m
		c.Bytes += m
		return false, nil
	})
	return got, handled, wrapOp("splice from socket", err)
}

// mapRange maps the file range [off, off+n) read-only, counting the mmap,
// and returns the bytes with the function that unmaps them (counting the
// munmap).
func mapRange(src *os.File, off, n int64, c *Counts) ([]byte, func() error, error) {
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	mm, err := unix.Mmap(int(src.Fd()), start, int(off-start+n), unix.PROT_READ, unix.MAP_SHARED)
	c.Syscalls++
	if err != nil {
		return nil, nil, fmt.Errorf("datapath: mmap: %w", err)
	}
	unmap := func() error {
		c.Syscalls++
		if err := unix.Munmap(mm); err != nil {
			return fmt.Errorf("datapath: munmap: %w", err)
		}
		return nil
	}
	return mm[off-start:], unmap, nil
}

// wrapOp names the socket call that failed and adds the package prefix.
func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("datapath: %s: %w", op, err)
}
