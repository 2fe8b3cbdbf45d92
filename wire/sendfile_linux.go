// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendFileRange writes f[off:off+n] to nc with sendfile(2) when nc is a
// *net.TCPConn. It goes through the connection's ReadFrom, which sends an
// *io.LimitedReader over a file with sendfile from the file's current
// offset. To leave f's offset alone (and be safe with concurrent senders of
// the same file), the file is reopened through /proc/self/fd: the new open
// file description has its own offset. The reopened descriptor is a bare
// one (privateFile), not an *os.File: that would add a poller
// registration attempt, flag reads and a finalizer to every range sent,
// five system calls besides the open, seek and close. handled is false
// when nothing was written and the caller must copy instead.
func sendFileRange(nc net.Conn, f *os.File, off, n int64) (written int64, handled bool, err error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return 0, false, nil
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	fd := -1
	var oerr error
	// Control keeps f's descriptor alive while it is reopened.
	if err := sc.Control(func(ffd uintptr) {
		fd, oerr = openPrivate(int(ffd))
	}); err != nil || oerr != nil {
		return 0, false, nil
	}
	g := privateFile(fd)
	defer g.close()
	if _, err := unix.Seek(fd, off, io.SeekStart); err != nil {
		return 0, false, nil
	}
	lr := &io.LimitedReader{R: g, N: n}
	written, err = tc.ReadFrom(lr)
	return written, true, err
}

// openPrivate opens the file behind descriptor fd again, read-only, as a
// new open file description with its own offset.
func openPrivate(fd int) (int, error) {
	for {
		g, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			return g, err
		}
	}
}

// privateFile is a blocking read-only file descriptor owned by one
// sendFileRange call. It is the io.Reader and syscall.Conn that
// net.TCPConn.ReadFrom needs to sendfile from it (and to copy from it if
// the kernel refuses sendfile).
type privateFile int

// privateReads counts privateFile reads: the copies made where sendfile
// was refused (a test checks that loopback TCP never needs them).
var privateReads atomic.Int64

// Read implements io.Reader with read(2) from the descriptor's offset.
func (g privateFile) Read(p []byte) (int, error) {
	privateReads.Add(1)
	for {
		n, err := unix.Read(int(g), p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// SyscallConn implements syscall.Conn.
func (g privateFile) SyscallConn() (syscall.RawConn, error) { return rawPrivate(g), nil }

// rawPrivate is a privateFile as a syscall.RawConn.
type rawPrivate int

// Control implements syscall.RawConn.
func (r rawPrivate) Control(f func(fd uintptr)) error {
	f(uintptr(r))
	return nil
}

// Read implements syscall.RawConn. The descriptor blocks, so there is
// nothing to wait for between calls of f.
func (r rawPrivate) Read(f func(fd uintptr) bool) error {
	for !f(uintptr(r)) {
	}
	return nil
}

// Write implements syscall.RawConn; the descriptor is read-only.
func (rawPrivate) Write(func(fd uintptr) bool) error { return unix.EBADF }

func (g privateFile) close() { _ = unix.Close(int(g)) } // read-only: nothing to flush
