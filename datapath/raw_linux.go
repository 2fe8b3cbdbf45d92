// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// errDone ends a step loop early without an error to report.
var errDone = errors.New("datapath: done")

// writeLoop runs step on dst's descriptor until step returns done or an
// error. A step that returns EAGAIN is called again once the socket is
// writable (the goroutine parks in Go's poller meanwhile); EINTR retries at
// once. Holding the descriptor for the whole loop keeps Go's write lock, so
// no other writer interleaves bytes.
func writeLoop(dst syscall.Conn, step func(fd int) (done bool, err error)) error {
	rc, err := dst.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw conn: %w", err)
	}
	var stepErr error
	err = rc.Write(func(fd uintptr) bool {
		return runStep(int(fd), step, &stepErr)
	})
	if err != nil {
		return fmt.Errorf("wait writable: %w", err)
	}
	return stepErr
}

// readLoop is writeLoop for the read side.
func readLoop(src syscall.Conn, step func(fd int) (done bool, err error)) error {
	rc, err := src.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw conn: %w", err)
	}
	var stepErr error
	err = rc.Read(func(fd uintptr) bool {
		return runStep(int(fd), step, &stepErr)
	})
	if err != nil {
		return fmt.Errorf("wait readable: %w", err)
	}
	return stepErr
}

func runStep(fd int, step func(fd int) (bool, error), out *error) bool {
	for {
		done, err := step(fd)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, errDone):
			return true
		case err != nil:
			*out = err
			return true
		case done:
			return true
		}
	}
}

// newPipe returns a pipe grown to size bytes where the kernel allows it, and
// the size it got.
func newPipe(size int) (r, w int, got int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, 0, fmt.Errorf("datapath: pipe: %w", err)
	}
	got, err = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, size)
	if err != nil {
		// An unprivileged process may be held to a smaller pipe: keep the
		// default size.
		got, err = unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			closePipe(p[0], p[1])
			return -1, -1, 0, fmt.Errorf("datapath: pipe size: %w", err)
		}
	}
	return p[0], p[1], got, nil
}

func closePipe(r, w int) {
	// Nothing useful can be done about a failed close of a pipe that
	// only this package saw.
	_, _ = unix.Close(r), unix.Close(w)
}

// unsupported reports whether err means the kernel or descriptor does not
// offer a call, so a caller should take its fallback.
func unsupported(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOPROTOOPT) ||
		errors.Is(err, unix.EBADF)
}
