// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"fmt"
	"strings"
)

// Transport schemes of node addresses.
const (
	schemeInproc = "inproc"
	schemeUnix   = "unix"
	schemeTCP    = "tcp"
)

// parseAddr splits "scheme://rest" and checks it. Addresses are:
//
//	inproc://NAME      a node in this process
//	unix:///PATH       a Unix stream socket
//	tcp://HOST:PORT    TCP
func parseAddr(addr string) (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%q: want scheme://address: %w", addr, ErrBadAddress)
	}
	switch scheme {
	case schemeInproc, schemeUnix, schemeTCP:
		return scheme, rest, nil
	}
	return "", "", fmt.Errorf("%q: unknown scheme %q: %w", addr, scheme, ErrBadAddress)
}
