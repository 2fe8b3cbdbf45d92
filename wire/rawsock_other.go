// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package wire

import "net"

// A rawSock would read and write with raw system calls; not implemented on
// this platform, where the connection's own Read and Write are used.
type rawSock struct{}

func newRawSock(net.Conn) *rawSock { return nil }

func (*rawSock) read([]byte) (int, error)       { return 0, nil }
func (*rawSock) readv(a, b []byte) (int, error) { return 0, nil }
func (*rawSock) write([]byte) (int, error)      { return 0, nil }
func (*rawSock) writev([][]byte) (int64, error) { return 0, nil }
