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

// sendFileRange writes head, then f[off:off+n], to nc when nc is a
// *net.TCPConn: head with sendmsg(2) and MSG_MORE, the range with
// sendfile(2), in one RawConn.Write. MSG_MORE keeps head in the socket
// until the range's first bytes join it, so a message's header and data
// leave in one segment: a header sent alone was a segment of its own (a
// loopback receive run in the sender's context) and woke the receiver for
// 40 bytes, once per message. sendfile gets the offset, so f's own offset
// is neither used nor changed and concurrent senders of one file need
// nothing else. It waits for room in the socket through the connection's
// poller (RawConn.Write), as the standard library's ReadFrom does, and
// keeps the connection's write deadline.
//
// net.TCPConn.ReadFrom would sendfile from the file's current offset only;
// using it meant reopening the file through /proc/self/fd for a private
// offset, then a seek and a close: three system calls per range besides
// the sendfile, the open a path walk through procfs (5 % of a seed's CPU
// at 512 KiB pieces).
//
// hn is the bytes of head written, written those of the range. handled is
// false when none of the range was written: nc is not TCP (hn is then 0),
// or the kernel refused sendfile for this pair (after head was written);
// the caller writes what is left of head and copies the range. An error
// with hn < len(head) is the connection's.
func sendFileRange(nc net.Conn, head []byte, f *os.File, off, n int64) (hn int, written int64, handled bool, err error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return 0, 0, false, nil
	}
	dst, err := tc.SyscallConn()
	if err != nil {
		return 0, 0, false, nil
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, 0, false, nil
	}
	more := unix.MSG_NOSIGNAL
	if n > 0 {
		more |= unix.MSG_MORE // with nothing behind it, head must not wait
	}
	var herr, serr, werr error
	// Control keeps f's descriptor alive while it is read.
	cerr := src.Control(func(sfd uintptr) {
		pos := off
		werr = dst.Write(func(dfd uintptr) bool {
			for hn < len(head) {
				k, e := unix.SendmsgN(int(dfd), head[hn:], nil, nil, more)
				if k > 0 {
					hn += k
				}
				switch {
				case errors.Is(e, unix.EINTR):
					continue
				case errors.Is(e, unix.EAGAIN):
					return false // the socket is full: wait until it is writable
				case e != nil:
					herr = e
					return true
				}
			}
			for written < n {
				k, e := unix.Sendfile(int(dfd), int(sfd), &pos, int(min(n-written, sendfileChunk)))
				if k > 0 {
					written += int64(k)
				}
				switch {
				case errors.Is(e, unix.EINTR):
					continue
				case errors.Is(e, unix.EAGAIN):
					return false
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
		return 0, 0, false, nil // f is closed (nothing was written): the copy reports it
	case herr != nil:
		return hn, 0, true, os.NewSyscallError("sendmsg", herr)
	case werr != nil && hn < len(head):
		return hn, 0, true, werr
	case serr != nil && written == 0 && refused(serr):
		return hn, 0, false, nil
	case serr != nil:
		return hn, written, true, os.NewSyscallError("sendfile", serr)
	}
	return hn, written, true, werr
}

// refused reports whether err is sendfile(2) declining the pair of
// descriptors (a file system without splice_read, a source with no
// offsets such as a pipe) rather than a failure of the socket or the file.
func refused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ESPIPE)
}
