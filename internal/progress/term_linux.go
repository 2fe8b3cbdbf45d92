// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package progress

import "golang.org/x/sys/unix"

// isTerminal reports whether fd answers the terminal ioctl.
func isTerminal(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}
