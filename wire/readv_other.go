// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package wire

import "net"

// A vreader would read with readv(2); not implemented on this platform.
type vreader struct{}

func newVReader(net.Conn) *vreader { return nil }

func (*vreader) read(a, b []byte) (int, error) { return 0, nil }
