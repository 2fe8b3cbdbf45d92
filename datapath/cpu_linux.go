// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import "golang.org/x/sys/unix"

// threadCPU returns the user and system CPU seconds the calling OS thread
// has used. The bench locks each side of a transfer to its own thread, so
// server and client are measured apart within one process; the Go
// runtime's other threads (poller, GC) are not charged to either side.
func threadCPU() (user, sys float64) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, 0
	}
	return tv(ru.Utime), tv(ru.Stime)
}

func tv(t unix.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// growReceiveBuffer asks for a big receive buffer on a UDP socket so a
// bench receiver drops less; as root it may exceed net.core.rmem_max.
func growReceiveBuffer(fd uintptr, size int) {
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
}
