// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package wire

import (
	"net"
	"os"
)

// sendFileRange is not implemented on this platform; the caller writes
// the header and copies.
func sendFileRange(nc net.Conn, head []byte, f *os.File, off, n int64) (hn int, written int64, handled bool, err error) {
	return 0, 0, false, nil
}

// spliceToFile is not implemented on this platform; the caller copies.
func spliceToFile(nc net.Conn, f *os.File, off, n int64) (written int64, handled bool, connErr, fileErr error) {
	return 0, false, nil, nil
}
