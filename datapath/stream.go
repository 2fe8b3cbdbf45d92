// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"os"
	"sync/atomic"
	"syscall"
)

// Stream is a sender-side streaming path: it cuts the file range
// [off, off+n) into datagrams of one [Header] (numbered from first.Seq)
// and up to [PayloadSize] bytes, and sends them on a connected UDP socket.
type Stream struct {
	// Name is the path's short name ("gso"); the bench case is
	// "stream-" + Name.
	Name string
	// Header is false for the one path that sends bare payload, the
	// baseline of the header tax.
	Header bool
	// Legacy is true for the paths the 2005 assessment had (one or more
	// calls per datagram) and false for the batching paths added since.
	Legacy bool
	// Copies is how often the CPU copies each payload byte, counting the
	// header bytes it copies as a share of the payload.
	Copies float64
	// Send moves the range and returns the payload bytes sent.
	Send func(dst syscall.Conn, src *os.File, off, n int64, first Header, c *Counts) (int64, error)
}

// mmsgBatch is how many datagrams one sendmmsg or recvmmsg call carries.
const mmsgBatch = 64

// gsoBroken is set once the kernel refused UDP_SEGMENT, so later streams
// go straight to the fallback.
var gsoBroken atomic.Bool

const headerShare = float64(HeaderLen) / PayloadSize

// Streams returns every streaming path.
func Streams() []Stream {
	return []Stream{
		{Name: "sendfile", Legacy: true, Copies: 0, Send: func(dst syscall.Conn, src *os.File, off, n int64, _ Header, c *Counts) (int64, error) {
			m, handled, err := StreamSendfile(dst, src, off, n, c)
			if !handled {
				return 0, ErrUnsupported
			}
			return m, err
		}},
		{Name: "sendfile-header", Header: true, Legacy: true, Copies: headerShare, Send: StreamSendfileHeader},
		{Name: "copy", Header: true, Legacy: true, Copies: 2 + 2*headerShare, Send: fromMemory(StreamCopy)},
		{Name: "writev", Header: true, Legacy: true, Copies: 1 + headerShare, Send: fromMemory(StreamWritev)},
		{Name: "sendmmsg", Header: true, Copies: 1 + headerShare, Send: fromMemory(StreamSendmmsg)},
		{Name: "gso", Header: true, Copies: 1 + headerShare, Send: fromMemory(func(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
			m, handled, err := StreamGSO(dst, mem, first, c)
			if !handled {
				return 0, ErrUnsupported
			}
			return m, err
		})},
	}
}

// fromMemory adapts a path that sends from memory to one that sends a file
// range, through one mmap of the range (counted).
func fromMemory(send func(syscall.Conn, []byte, Header, *Counts) (int64, error)) func(syscall.Conn, *os.File, int64, int64, Header, *Counts) (int64, error) {
	return func(dst syscall.Conn, src *os.File, off, n int64, first Header, c *Counts) (int64, error) {
		if n == 0 {
			return 0, nil
		}
		mem, unmap, err := mapRange(src, off, n, c)
		if err != nil {
			return 0, err
		}
		m, err := send(dst, mem, first, c)
		if uerr := unmap(); err == nil {
			err = uerr
		}
		return m, err
	}
}

// StreamSend sends mem as datagrams on dst by the fastest streaming path
// measured: UDP GSO, falling back to sendmmsg batches where the kernel or
// route has no UDP segmentation. It is what pollen's stream mode uses.
func StreamSend(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	m, handled, err := StreamGSO(dst, mem, first, c)
	if handled {
		return m, err
	}
	return StreamSendmmsg(dst, mem, first, c)
}

// packets returns how many datagrams carry n payload bytes.
func packets(n int) int { return (n + PayloadSize - 1) / PayloadSize }
