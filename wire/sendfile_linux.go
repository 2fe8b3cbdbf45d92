// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"io"
	"net"
	"os"
	"strconv"
)

// sendFileRange writes f[off:off+n] to nc with sendfile(2) when nc is a
// *net.TCPConn. It goes through the connection's ReadFrom, which sends an
// *io.LimitedReader over an *os.File with sendfile from the file's current
// offset. To leave f's offset alone (and be safe with concurrent senders of
// the same file), the file is reopened through /proc/self/fd: the new open
// file description has its own offset. handled is false when nothing was
// written and the caller must copy instead.
func sendFileRange(nc net.Conn, f *os.File, off, n int64) (written int64, handled bool, err error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return 0, false, nil
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var g *os.File
	var oerr error
	// Control keeps f's descriptor alive while it is reopened.
	if err := sc.Control(func(fd uintptr) {
		g, oerr = os.Open("/proc/self/fd/" + strconv.Itoa(int(fd)))
	}); err != nil || oerr != nil {
		return 0, false, nil
	}
	defer func() { _ = g.Close() }() // read-only: nothing to flush
	if _, err := g.Seek(off, io.SeekStart); err != nil {
		return 0, false, nil
	}
	lr := &io.LimitedReader{R: g, N: n}
	written, err = tc.ReadFrom(lr)
	return written, true, err
}
