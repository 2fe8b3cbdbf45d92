// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build unix

package msgbench

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes the raw baseline's socket with raw read(2) and
// write(2) on its non-blocking descriptor, as wire does (wire/rawsock_linux.go),
// so that the baseline pays no more for a system call than pollen does: a
// net.Conn's Read and Write go through syscall.Syscall, which wakes the Go
// runtime's sysmon thread when the process was idle, a cost of a few
// microseconds per round trip that pollen's own transport avoids. One
// goroutine at a time reads and one writes.
type rawIO struct {
	rc   syscall.RawConn
	p    []byte
	n    int
	err  error
	rfn  func(uintptr) bool
	wfn  func(uintptr) bool
	wp   []byte
	werr error
}

// newRawIO returns c's raw reader and writer, or c itself if it has no
// raw descriptor.
func newRawIO(c net.Conn) io.ReadWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawIO{rc: rc}
	r.rfn, r.wfn = r.doRead, r.doWrite
	return r
}

func (r *rawIO) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.err = os.NewSyscallError("read", e)
			return true
		}
	}
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.rfn)
	r.p = nil
	if err == nil {
		err = r.err
	}
	return r.n, err
}

func (r *rawIO) doWrite(fd uintptr) bool {
	for len(r.wp) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wp[0])), uintptr(len(r.wp)))
		switch e {
		case 0:
			r.wp = r.wp[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werr = os.NewSyscallError("write", e)
			return true
		}
	}
	return true
}

func (r *rawIO) Write(p []byte) (int, error) {
	r.wp, r.werr = p, nil
	err := r.rc.Write(r.wfn)
	n := len(p) - len(r.wp)
	r.wp = nil
	if err == nil {
		err = r.werr
	}
	return n, err
}
