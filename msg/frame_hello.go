// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
)

// helloMagic opens every hello payload.
const helloMagic = "PMSG"

// maxAddrLen bounds the address in a hello frame.
const maxAddrLen = 1024

// A helloFrame opens a connection of a session. It is written on a new
// connection before the connection is attached to the session's mux.
//
//	payload: "PMSG" | version u8 | node u64 | session u64 | addrLen u16 | addr
type helloFrame struct {
	Version uint8  // ProtocolVersion of the sender
	Node    NodeID // the sending node
	Session uint64 // the session this connection belongs to; never 0
	Addr    string // the sender's listen address, possibly empty
}

func (helloFrame) frameType() uint8 { return frameHello }

// Len returns the encoded length.
func (f helloFrame) Len() int { return 8 + 4 + 1 + 8 + 8 + 2 + len(f.Addr) }

// Append appends the encoded frame to b.
func (f helloFrame) Append(b []byte) ([]byte, error) {
	if len(f.Addr) > maxAddrLen {
		return b, fmt.Errorf("hello address of %d bytes: %w", len(f.Addr), ErrMessageTooLarge)
	}
	b, err := appendHeader(b, frameHello, 0, f.Len()-8)
	if err != nil {
		return b, err
	}
	b = append(b, helloMagic...)
	b = append(b, f.Version)
	b = binary.BigEndian.AppendUint64(b, uint64(f.Node))
	b = binary.BigEndian.AppendUint64(b, f.Session)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.Addr)))
	return append(b, f.Addr...), nil
}

// parseHello decodes a hello frame at the start of b.
func parseHello(b []byte) (helloFrame, int, error) {
	h, p, n, err := parseHeader(b, frameHello)
	if err != nil {
		return helloFrame{}, 0, err
	}
	if err := checkFlags(h, 0); err != nil {
		return helloFrame{}, 0, err
	}
	d := fields{p: p}
	var f helloFrame
	if magic := d.bytes(4); d.err == nil && string(magic) != helloMagic {
		return helloFrame{}, 0, fmt.Errorf("hello magic %q: %w", magic, ErrMalformed)
	}
	f.Version = d.u8()
	f.Node = NodeID(d.u64())
	f.Session = d.u64()
	alen := d.u16()
	if alen > maxAddrLen {
		return helloFrame{}, 0, fmt.Errorf("hello address of %d bytes: %w", alen, ErrMalformed)
	}
	f.Addr = string(d.bytes(uint64(alen)))
	if err := d.done(); err != nil {
		return helloFrame{}, 0, err
	}
	if f.Session == 0 {
		return helloFrame{}, 0, fmt.Errorf("hello session 0: %w", ErrMalformed)
	}
	return f, n, nil
}
