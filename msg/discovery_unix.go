// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build unix

package msg

import "syscall"

// reuseAddrControl sets SO_REUSEADDR, so that every node of a host can bind
// the discovery port and each receives the broadcast queries.
func reuseAddrControl(_, _ string, c syscall.RawConn) error {
	return setSockOpt(c, syscall.SO_REUSEADDR)
}

// broadcastControl sets SO_BROADCAST, which sending to a broadcast address
// needs.
func broadcastControl(_, _ string, c syscall.RawConn) error {
	return setSockOpt(c, syscall.SO_BROADCAST)
}

func setSockOpt(c syscall.RawConn, opt int) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 1)
	}); err != nil {
		return err
	}
	return serr
}
