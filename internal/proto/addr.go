// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"fmt"
	"net/netip"

	"github.com/pollen-dev/pollen/internal/codec"
)

// A parent's address in a [Schedule] (protocol version 2) is one of
//
//	kind u8 = 4 | ipv4 [4] | port u16          an IPv4 host:port
//	kind u8 = 6 | ipv6 [16] | port u16         an IPv6 [host]:port
//	kind u8 = 0 | len u8 | text [len]          anything else (a host name)
//
// An address is in binary form exactly when it is an IP literal and port
// written as [netip.AddrPort.String] writes it (no zone, no IPv4-mapped
// IPv6); a text address that would be binary is malformed, so each address
// has one encoding. The binary form is 7 bytes where "198.18.0.12:7601" as
// text takes 17: the scheduler sends one per parent per assignment.
const (
	addrText = 0
	addrIPv4 = 4
	addrIPv6 = 6

	minAddrLen = 2 // an empty text address
)

// binaryAddr returns addr parsed if it travels in binary form.
func binaryAddr(addr string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
		return netip.AddrPort{}, false
	}
	var buf [64]byte // the longest form, [IPv6]:port, is 47 bytes
	if string(ap.AppendTo(buf[:0])) != addr {
		return netip.AddrPort{}, false
	}
	return ap, true
}

// addrLen is the encoded length of addr.
func addrLen(addr string) int {
	if ap, ok := binaryAddr(addr); ok {
		return 1 + ap.Addr().BitLen()/8 + 2
	}
	return 2 + len(addr)
}

// appendAddr appends the encoding of addr to b.
func appendAddr(b []byte, addr string) ([]byte, error) {
	ap, ok := binaryAddr(addr)
	if !ok {
		return format.AppendStr(append(b, addrText), 1, addr, MaxAddrLen, "parent addr")
	}
	if ap.Addr().Is4() {
		b = append(b, addrIPv4)
	} else {
		b = append(b, addrIPv6)
	}
	b = append(b, ap.Addr().AsSlice()...)
	return appendU16(b, ap.Port()), nil
}

// parseAddr reads what appendAddr wrote.
func parseAddr(d *codec.Decoder) string {
	switch kind := d.U8(); kind {
	case addrText:
		s := d.Str(1, MaxAddrLen, "parent addr")
		if _, ok := binaryAddr(s); ok && d.Err() == nil {
			d.Fail(fmt.Errorf("%w: address %q in text form", ErrMalformed, s))
		}
		return s
	case addrIPv4, addrIPv6:
		n := 4
		if kind == addrIPv6 {
			n = 16
		}
		ip, ok := netip.AddrFromSlice(d.Take(n))
		port := d.U16()
		if d.Err() != nil {
			return ""
		}
		if !ok || ip.Is4In6() {
			d.Fail(fmt.Errorf("%w: IPv4-mapped address in IPv6 form", ErrMalformed))
			return ""
		}
		return netip.AddrPortFrom(ip, port).String()
	default:
		if d.Err() == nil {
			d.Fail(fmt.Errorf("%w: address kind %d", ErrMalformed, kind))
		}
		return ""
	}
}
