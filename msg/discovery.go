// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
)

// The discovery packets of [Node.Lookup]: one UDP datagram each
// (docs/msg-protocol.md, "Names"). All integers are big-endian.
//
//	query:  "PNAM" | version u8 | type u8 = 1 | nonce u64 | nameLen u8 | name
//	answer: "PNAM" | version u8 | type u8 = 2 | nonce u64 | nameLen u8 | name |
//	        node u64 | naddr u8 | naddr × (addrLen u16 | addr)
const (
	discoveryMagic   = "PNAM"
	discoveryVersion = 1
	discoveryQuery   = 1
	discoveryAnswer  = 2

	// MaxNameLen bounds a registered name, in bytes.
	MaxNameLen = 200
	// maxAnswerAddrs bounds the addresses of one answer.
	maxAnswerAddrs = 4
	// maxAnswerAddrLen bounds one address of an answer.
	maxAnswerAddrLen = 256
	// maxDiscoveryPacket is the longest valid packet.
	maxDiscoveryPacket = 4 + 1 + 1 + 8 + 1 + MaxNameLen + 8 + 1 + maxAnswerAddrs*(2+maxAnswerAddrLen)
)

// A discoveryPacket is a decoded query or answer.
type discoveryPacket struct {
	Type  uint8  // discoveryQuery or discoveryAnswer
	Nonce uint64 // chosen by the querier, echoed by the answer
	Name  string
	// Answers only.
	Node  NodeID
	Addrs []string
}

// checkName reports whether name can be registered and looked up: 1 to
// MaxNameLen bytes of UTF-8 without control characters.
func checkName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("msg: name %q: %w", name, ErrBadName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("msg: name %q: control character: %w", name, ErrBadName)
		}
	}
	return nil
}

// appendDiscovery encodes p after b.
func appendDiscovery(b []byte, p discoveryPacket) ([]byte, error) {
	if err := checkName(p.Name); err != nil {
		return b, err
	}
	if p.Type != discoveryQuery && p.Type != discoveryAnswer {
		return b, fmt.Errorf("discovery packet type %d: %w", p.Type, ErrMalformed)
	}
	if p.Type == discoveryQuery && (p.Node != 0 || len(p.Addrs) != 0) {
		return b, fmt.Errorf("discovery query with an answer's fields: %w", ErrMalformed)
	}
	b = append(b, discoveryMagic...)
	b = append(b, discoveryVersion, p.Type)
	b = binary.BigEndian.AppendUint64(b, p.Nonce)
	b = append(b, byte(len(p.Name)))
	b = append(b, p.Name...)
	if p.Type == discoveryQuery {
		return b, nil
	}
	if len(p.Addrs) > maxAnswerAddrs {
		return b, fmt.Errorf("discovery answer with %d addresses: %w", len(p.Addrs), ErrMalformed)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(p.Node))
	b = append(b, byte(len(p.Addrs)))
	for _, a := range p.Addrs {
		if len(a) > maxAnswerAddrLen {
			return b, fmt.Errorf("discovery answer address of %d bytes: %w", len(a), ErrMalformed)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
		b = append(b, a...)
	}
	return b, nil
}

// parseDiscovery decodes one packet, which must fill b exactly. A packet
// cut short is io.ErrUnexpectedEOF; anything else invalid is
// [ErrMalformed]. It allocates only the name and addresses.
func parseDiscovery(b []byte) (discoveryPacket, error) {
	var p discoveryPacket
	d := packetReader{b: b}
	magic := d.bytes(len(discoveryMagic))
	if d.err == nil && string(magic) != discoveryMagic {
		return p, fmt.Errorf("discovery magic %q: %w", magic, ErrMalformed)
	}
	if v := d.u8(); d.err == nil && v != discoveryVersion {
		return p, fmt.Errorf("discovery version %d: %w", v, ErrMalformed)
	}
	p.Type = d.u8()
	if d.err == nil && p.Type != discoveryQuery && p.Type != discoveryAnswer {
		return p, fmt.Errorf("discovery packet type %d: %w", p.Type, ErrMalformed)
	}
	p.Nonce = d.u64()
	nlen := int(d.u8())
	if d.err == nil && (nlen == 0 || nlen > MaxNameLen) {
		return p, fmt.Errorf("discovery name of %d bytes: %w", nlen, ErrMalformed)
	}
	name := d.bytes(nlen)
	if p.Type == discoveryAnswer {
		p.Node = NodeID(d.u64())
		naddr := int(d.u8())
		if d.err == nil && naddr > maxAnswerAddrs {
			return p, fmt.Errorf("discovery answer with %d addresses: %w", naddr, ErrMalformed)
		}
		for range naddr {
			alen := int(d.u16())
			if d.err == nil && alen > maxAnswerAddrLen {
				return p, fmt.Errorf("discovery address of %d bytes: %w", alen, ErrMalformed)
			}
			a := d.bytes(alen)
			if d.err != nil {
				break
			}
			p.Addrs = append(p.Addrs, string(a))
		}
	}
	if d.err != nil {
		return discoveryPacket{}, fmt.Errorf("msg: discovery packet: %w", d.err)
	}
	if len(d.b) != 0 {
		return discoveryPacket{}, fmt.Errorf("discovery packet with %d trailing bytes: %w", len(d.b), ErrMalformed)
	}
	p.Name = string(name)
	if err := checkName(p.Name); err != nil {
		return discoveryPacket{}, fmt.Errorf("discovery packet: %w", ErrMalformed)
	}
	return p, nil
}

// packetReader reads fields off a packet; the first short read sets err to
// io.ErrUnexpectedEOF and every later read returns zero.
type packetReader struct {
	b   []byte
	err error
}

func (d *packetReader) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = io.ErrUnexpectedEOF
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *packetReader) u8() uint8 {
	if b := d.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *packetReader) u16() uint16 {
	if b := d.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (d *packetReader) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}
