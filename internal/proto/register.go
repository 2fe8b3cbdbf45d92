// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"

	"github.com/pollen-dev/pollen/internal/core"
)

// Register announces a daemon to the scheduler; it is the first request on
// a session and is answered with [Registered] or [Error]. Registering an id
// the scheduler already knows replaces that peer (a restarted daemon): its
// old tasks and assignments are dropped and it joins its tasks again.
//
//	Register: peer [16] | upload u64 | download u64 |
//	          addrLen u8 | addr [addrLen] | tokenLen u8 | token [tokenLen]
type Register struct {
	Peer     core.PeerID // the daemon's id; never zero
	Upload   uint64      // upload capacity in bytes per second; 0 means unknown
	Download uint64      // download capacity in bytes per second; 0 means unknown
	Addr     string      // host:port where the daemon serves pieces; at most [MaxAddrLen] bytes
	Token    string      // shared secret when the scheduler requires one; at most [MaxTokenLen] bytes
}

func (*Register) message() {}

// Type returns [TypeRegister].
func (*Register) Type() Type { return TypeRegister }

// Len returns the encoded length.
func (m *Register) Len() int { return HeaderLen + 16 + 8 + 8 + 1 + len(m.Addr) + 1 + len(m.Token) }

// Append appends the encoding of m to b.
func (m *Register) Append(b []byte) ([]byte, error) {
	if m.Peer.IsZero() {
		return b, fmt.Errorf("%w: register: zero peer id", ErrMalformed)
	}
	b = appendHeader(b, TypeRegister)
	b = append(b, m.Peer[:]...)
	b = appendU64(b, m.Upload)
	b = appendU64(b, m.Download)
	b, err := format.AppendStr(b, 1, m.Addr, MaxAddrLen, "addr")
	if err != nil {
		return b, err
	}
	return format.AppendStr(b, 1, m.Token, MaxTokenLen, "token")
}

func parseRegister(b []byte) (Register, int, error) {
	d := format.Decoder(b)
	var m Register
	m.Peer = d.Peer()
	m.Upload = d.U64()
	m.Download = d.U64()
	m.Addr = d.Str(1, MaxAddrLen, "addr")
	m.Token = d.Str(1, MaxTokenLen, "token")
	if d.Err() == nil && m.Peer.IsZero() {
		d.Fail(fmt.Errorf("%w: zero peer id", ErrMalformed))
	}
	n, err := d.Done()
	return m, n, err
}
