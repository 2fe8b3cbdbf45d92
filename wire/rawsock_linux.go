// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// A rawSock reads and writes a connected socket with raw system calls on
// its non-blocking descriptor, through the connection's syscall.RawConn
// (which still parks on the poller and honours deadlines).
//
// Raw, because the socket never blocks: read(2), readv(2), write(2) and
// writev(2) return EAGAIN instead. A call through syscall.Syscall, as
// net.Conn's Read and Write make, tells the Go scheduler it may block
// (entersyscall), and that wakes the runtime's sysmon thread whenever the
// process was idle; sysmon then polls every 20 µs until the process is
// idle again. A daemon receiving pieces at a modest rate wakes many times a
// second, and in the swarm lab (docs/benchmarks.md, "the Go runtime's
// sysmon") those polls cost more CPU than the data. A raw call keeps its P,
// which is right for a call that only copies what the socket already has
// or has room for.
//
// The read side is used by the read token's holder only, the write side by
// the wmu holder only: two goroutines at most, each with its own state.
type rawSock struct {
	rc syscall.RawConn
	nc net.Conn // for the addresses in errors
	r  rawRead
	w  rawWrite
}

type rawRead struct {
	iov [2]syscall.Iovec
	cnt int // iovecs in use
	n   int
	err error                 // io.EOF or a system call's error
	fn  func(fd uintptr) bool // do, bound once
}

type rawWrite struct {
	iov  []syscall.Iovec // what is left to write
	keep []syscall.Iovec // iov's backing array, reused
	n    int64
	err  error
	fn   func(fd uintptr) bool // do, bound once
}

// newRawSock returns a rawSock for a TCP or Unix stream connection, nil for
// anything else (then the connection's own Read and Write are used).
func newRawSock(nc net.Conn) *rawSock {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &rawSock{rc: rc, nc: nc}
	s.r.fn = s.r.do
	s.w.fn = s.w.do
	return s
}

func (r *rawRead) do(fd uintptr) bool {
	for {
		var n uintptr
		var e syscall.Errno
		if r.cnt == 1 {
			n, _, e = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(r.iov[0].Base)), uintptr(r.iov[0].Len))
		} else {
			n, _, e = syscall.RawSyscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&r.iov[0])), uintptr(r.cnt))
		}
		switch e {
		case 0:
			r.n, r.err = int(n), nil
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		default:
			r.n, r.err = 0, e
			return true
		}
	}
}

// readv reads into a, then b (a must not be empty; b may be nil), in one
// readv(2), and returns the bytes read; like a net.Conn's Read, it blocks
// until some bytes arrive and honours the read deadline.
func (s *rawSock) readv(a, b []byte) (int, error) {
	r := &s.r
	r.iov[0] = syscall.Iovec{Base: &a[0]}
	r.iov[0].SetLen(len(a))
	r.cnt = 1
	if len(b) > 0 {
		r.iov[1] = syscall.Iovec{Base: &b[0]}
		r.iov[1].SetLen(len(b))
		r.cnt = 2
	}
	r.n, r.err = 0, nil
	err := s.rc.Read(r.fn)
	r.iov = [2]syscall.Iovec{} // drop the references
	if err == nil {
		err = s.opError("read", r.err)
	}
	return r.n, err
}

func (w *rawWrite) do(fd uintptr) bool {
	for len(w.iov) > 0 {
		var n uintptr
		var e syscall.Errno
		if len(w.iov) == 1 {
			n, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(w.iov[0].Base)), uintptr(w.iov[0].Len))
		} else {
			n, _, e = syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(min(len(w.iov), maxIovecs)))
		}
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until writable
		default:
			w.err = e
			return true
		}
		w.n += int64(n)
		w.advance(int(n))
	}
	return true
}

// advance drops the first n written bytes from w.iov.
func (w *rawWrite) advance(n int) {
	for n > 0 {
		l := int(w.iov[0].Len)
		if n < l {
			w.iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(w.iov[0].Base), n))
			w.iov[0].SetLen(l - n)
			return
		}
		n -= l
		w.iov = w.iov[1:]
	}
}

// maxIovecs is the most iovecs one writev(2) takes (IOV_MAX).
const maxIovecs = 1024

// write writes all of p, like a net.Conn's Write.
func (s *rawSock) write(p []byte) (int, error) {
	var one [1][]byte
	one[0] = p
	n, err := s.writev(one[:])
	return int(n), err
}

// writev writes all of bufs in as few writev(2) calls as the socket
// allows, like net.Buffers' WriteTo.
func (s *rawSock) writev(bufs [][]byte) (int64, error) {
	w := &s.w
	w.keep = w.keep[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		w.keep = append(w.keep, v)
	}
	if len(w.keep) == 0 {
		return 0, nil
	}
	w.iov, w.n, w.err = w.keep, 0, nil
	err := s.rc.Write(w.fn)
	clear(w.keep) // drop the references
	w.iov = nil
	if err == nil {
		err = s.opError("write", w.err)
	}
	return w.n, err
}

// opError wraps a system call's error number as net.Conn's methods do;
// anything else (nil, io.EOF) is returned as it is. The poller's errors
// (deadline, closed) come wrapped by the RawConn already.
func (s *rawSock) opError(op string, err error) error {
	e, ok := err.(syscall.Errno) //nolint:errorlint // set by do, never wrapped
	if !ok {
		return err
	}
	return &net.OpError{Op: op, Net: s.nc.LocalAddr().Network(), Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: os.NewSyscallError(op, e)}
}
