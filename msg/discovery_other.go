// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !unix

package msg

import (
	"errors"
	"syscall"
)

var errNoDiscovery = errors.New("msg: name discovery needs a unix platform")

func reuseAddrControl(_, _ string, _ syscall.RawConn) error { return errNoDiscovery }

func broadcastControl(_, _ string, _ syscall.RawConn) error { return errNoDiscovery }
