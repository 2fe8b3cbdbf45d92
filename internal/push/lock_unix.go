// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package push

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// holdTemp takes an exclusive advisory lock (flock) on a temporary file
// being received, so that [Receiver.RemoveStale] in any process leaves it
// alone. The lock lives as long as the file's descriptor.
func holdTemp(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// heldElsewhere reports whether another descriptor holds f's lock; if
// not, f now holds it.
func heldElsewhere(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// openNoFollow opens the file name beneath root for reading, failing on a
// final symbolic link and never blocking (on a FIFO put there meanwhile).
func openNoFollow(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// isLinkErr reports the error of opening a symbolic link with O_NOFOLLOW.
func isLinkErr(err error) bool { return errors.Is(err, syscall.ELOOP) }
