// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// spliceChunk is the most moved per splice call (and the pipe's size).
const spliceChunk = 1 << 20

// spliceToFile moves n bytes from the socket under nc into f at off with
// splice(2), socket → pipe → file, without copying through user space. It
// waits for the socket through Go's poller, so nc's read deadline applies.
// handled is false when nothing was done and the caller must copy instead.
func spliceToFile(nc net.Conn, f *os.File, off, n int64) (written int64, handled bool, connErr, fileErr error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false, nil, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil, nil
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return 0, false, nil, nil
	}
	defer func() { _, _ = unix.Close(p[0]), unix.Close(p[1]) }()
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, spliceChunk)

	for written < n {
		var inPipe int
		var serr error
		err := rc.Read(func(fd uintptr) bool {
			k, e := unix.Splice(int(fd), nil, p[1], nil, int(min(n-written, spliceChunk)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if errors.Is(e, unix.EAGAIN) {
				return false // wait until the socket is readable
			}
			inPipe, serr = int(k), e
			return true
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return written, true, err, nil
		}
		if inPipe == 0 {
			return written, true, io.EOF, nil
		}
		for inPipe > 0 {
			var k int64
			var werr error
			if err := fc.Control(func(fd uintptr) {
				k, werr = unix.Splice(p[0], nil, int(fd), &off, inPipe, unix.SPLICE_F_MOVE)
			}); err != nil {
				return written, true, nil, err
			}
			if werr == unix.EINTR {
				continue
			}
			if werr != nil {
				return written, true, nil, os.NewSyscallError("splice", werr)
			}
			if k == 0 {
				return written, true, nil, io.ErrShortWrite
			}
			inPipe -= int(k)
			written += k
		}
	}
	return written, true, nil, nil
}
