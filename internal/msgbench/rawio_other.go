// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !unix

package msgbench

import (
	"io"
	"net"
)

// newRawIO returns c: raw system calls are used on Unix systems only.
func newRawIO(c net.Conn) io.ReadWriter { return c }
