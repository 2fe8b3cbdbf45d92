// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// A vreader reads a connection with readv(2): the rest of a message
// straight into the message's buffer and, in the same call, whatever
// follows into the read buffer, so a stream of large messages costs one
// system call per message and no copy.
type vreader struct {
	rc  syscall.RawConn
	iov [2]syscall.Iovec
	n   int
	err error
	fn  func(fd uintptr) bool // v.do, bound once
}

// newVReader returns a vreader for a TCP connection, nil for anything else.
func newVReader(nc net.Conn) *vreader {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	v := &vreader{rc: rc}
	v.fn = v.do
	return v
}

func (v *vreader) do(fd uintptr) bool {
	for {
		n, _, e := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&v.iov[0])), uintptr(len(v.iov)))
		switch e {
		case 0:
			v.n, v.err = int(n), nil
			if n == 0 {
				v.err = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		default:
			v.n, v.err = 0, e
			return true
		}
	}
}

// read reads into a, then b (a must not be empty), and returns the bytes
// read; like a Read, it blocks until some arrive and honours deadlines.
func (v *vreader) read(a, b []byte) (int, error) {
	v.iov[0] = syscall.Iovec{Base: &a[0]}
	v.iov[0].SetLen(len(a))
	if len(b) > 0 {
		v.iov[1] = syscall.Iovec{Base: &b[0]}
		v.iov[1].SetLen(len(b))
	} else {
		v.iov[1] = syscall.Iovec{}
	}
	v.n, v.err = 0, nil
	err := v.rc.Read(v.fn)
	v.iov = [2]syscall.Iovec{} // drop the references
	if err != nil {
		return 0, err
	}
	return v.n, v.err
}
