// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// sendfileChunk is the most one sendfile(2) call is asked to move, as in
// the standard library's sendfile loop; the kernel moves less when the
// socket's send buffer fills.
const sendfileChunk = 4 << 20

// sendFileRange writes f[off:off+n] to nc with sendfile(2) when nc is a
// *net.TCPConn. It passes the offset to the system call, so f's own offset
// is neither used nor changed and concurrent senders of one file need
// nothing else. It waits for room in the socket through the connection's
// poller (RawConn.Write), as the standard library's ReadFrom does, and
// keeps the connection's write deadline.
//
// net.TCPConn.ReadFrom would sendfile from the file's current offset only;
// using it meant reopening the file through /proc/self/fd for a private
// offset, then a seek and a close: three system calls per range besides
// the sendfile, the open a path walk through procfs (5 % of a seed's CPU
// at 512 KiB pieces). handled is false when nothing was written and the
// kernel refused sendfile for this pair; the caller copies instead.
func sendFileRange(nc net.Conn, f *os.File, off, n int64) (written int64, handled bool, err error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return 0, false, nil
	}
	dst, err := tc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr, werr error
	// Control keeps f's descriptor alive while it is read.
	cerr := src.Control(func(sfd uintptr) {
		pos := off
		werr = dst.Write(func(dfd uintptr) bool {
			for written < n {
				k, e := unix.Sendfile(int(dfd), int(sfd), &pos, int(min(n-written, sendfileChunk)))
				if k > 0 {
					written += int64(k)
				}
				switch {
				case errors.Is(e, unix.EINTR):
					continue
				case errors.Is(e, unix.EAGAIN):
					return false // the socket is full: wait until it is writable
				case e != nil:
					serr = e
					return true
				case k == 0:
					return true // the file ends before off+n
				}
			}
			return true
		})
	})
	switch {
	case cerr != nil:
		return 0, false, nil // f is closed: the copy reports it
	case serr != nil && written == 0 && refused(serr):
		return 0, false, nil
	case serr != nil:
		return written, true, os.NewSyscallError("sendfile", serr)
	}
	return written, true, werr
}

// refused reports whether err is sendfile(2) declining the pair of
// descriptors (a file system without splice_read, a source with no
// offsets such as a pipe) rather than a failure of the socket or the file.
func refused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ESPIPE)
}
