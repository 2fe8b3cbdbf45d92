// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoSegments is how many datagrams one UDP GSO call carries: as many as
// fit one 65507-byte UDP payload (46 of 1412 bytes), below the kernel's
// UDP_MAX_SEGMENTS (64 or more).
const gsoSegments = 65507 / (HeaderLen + PayloadSize)

// mmsghdr is struct mmsghdr from <sys/socket.h>; x/sys does not have it.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// StreamCopy sends mem as datagrams, copying each header and payload into
// one buffer and writing it: two copies per byte, one call per datagram.
func StreamCopy(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	buf := make([]byte, HeaderLen+PayloadSize)
	count := packets(len(mem))
	var i, size int // datagram being sent and its length once built
	var sent int64
	err := writeLoop(dst, func(fd int) (bool, error) {
		if i == count {
			return true, nil
		}
		if size == 0 {
			h, lo, hi := packet(first, i, count, len(mem))
			h.put(buf)
			size = HeaderLen + copy(buf[HeaderLen:], mem[lo:hi])
		}
		_, err := unix.Write(fd, buf[:size])
		c.Syscalls++
		if err != nil {
			return false, err
		}
		sent += int64(size - HeaderLen)
		c.Bytes += int64(size - HeaderLen)
		c.Packets++
		i, size = i+1, 0
		return false, nil
	})
	return sent, wrapOp("write", err)
}

// StreamWritev sends mem as datagrams with one writev of header and payload
// each: the payload is copied once, by the kernel; one call per datagram.
func StreamWritev(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	st := new(struct {
		hdr [HeaderLen]byte
		iov [2]unix.Iovec
	})
	count := packets(len(mem))
	var i int
	var sent int64
	err := writeLoop(dst, func(fd int) (bool, error) {
		if i == count {
			return true, nil
		}
		h, lo, hi := packet(first, i, count, len(mem))
		h.put(st.hdr[:])
		setIovec(&st.iov[0], st.hdr[:])
		setIovec(&st.iov[1], mem[lo:hi])
		_, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&st.iov[0])), 2)
		c.Syscalls++
		if e != 0 {
			return false, e
		}
		sent += int64(hi - lo)
		c.Bytes += int64(hi - lo)
		c.Packets++
		i++
		return false, nil
	})
	return sent, wrapOp("writev", err)
}

// StreamSendmmsg sends mem as datagrams, 64 per sendmmsg call, each
// datagram a header and a payload iovec: one copy per byte.
func StreamSendmmsg(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, error) {
	st := new(struct {
		hdrs [mmsgBatch][HeaderLen]byte
		iov  [2 * mmsgBatch]unix.Iovec
		msgs [mmsgBatch]mmsghdr
	})
	count := packets(len(mem))
	var i, next, batch int // first datagram of the batch, next unsent in it, batch size
	var sent int64
	err := writeLoop(dst, func(fd int) (bool, error) {
		if next == batch {
			i += batch
			if i == count {
				return true, nil
			}
			batch, next = min(mmsgBatch, count-i), 0
			for k := range batch {
				h, lo, hi := packet(first, i+k, count, len(mem))
				h.put(st.hdrs[k][:])
				setIovec(&st.iov[2*k], st.hdrs[k][:])
				setIovec(&st.iov[2*k+1], mem[lo:hi])
				st.msgs[k] = mmsghdr{}
				st.msgs[k].hdr.Iov = &st.iov[2*k]
				st.msgs[k].hdr.SetIovlen(2)
			}
		}
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&st.msgs[next])), uintptr(batch-next), 0, 0, 0)
		c.Syscalls++
		if e != 0 {
			return false, e
		}
		for k := next; k < next+int(r); k++ {
			sent += int64(st.iov[2*k+1].Len)
			c.Bytes += int64(st.iov[2*k+1].Len)
		}
		c.Packets += int64(r)
		next += int(r)
		return false, nil
	})
	return sent, wrapOp("sendmmsg", err)
}

// StreamGSO sends mem as datagrams with UDP generic segmentation offload:
// each sendmsg carries up to 46 header+payload pairs in one iovec and a
// UDP_SEGMENT control message, and the kernel (or NIC) cuts it into
// datagrams. One copy per byte. dst must be a connected UDP socket (a
// stream socket would ignore the segment size). handled is false, with nothing sent, when
// the kernel refuses UDP_SEGMENT; [StreamSend] then takes sendmmsg.
func StreamGSO(dst syscall.Conn, mem []byte, first Header, c *Counts) (int64, bool, error) {
	if gsoBroken.Load() {
		return 0, false, nil
	}
	st := new(struct {
		hdrs [gsoSegments][HeaderLen]byte
		iov  [2 * gsoSegments]unix.Iovec
		oob  [64]byte
		msg  unix.Msghdr
	})
	oobLen := unix.CmsgSpace(2)
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&st.oob[0]))
	cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	cm.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(st.oob[unix.CmsgLen(0):], HeaderLen+PayloadSize)
	st.msg.Control = &st.oob[0]
	st.msg.SetControllen(oobLen)

	count := packets(len(mem))
	var i, batch, payload int // first datagram of the call, datagrams and payload in it
	var sent int64
	handled := true
	err := writeLoop(dst, func(fd int) (bool, error) {
		if batch == 0 {
			if i == count {
				return true, nil
			}
			batch, payload = min(gsoSegments, count-i), 0
			for k := range batch {
				h, lo, hi := packet(first, i+k, count, len(mem))
				h.put(st.hdrs[k][:])
				setIovec(&st.iov[2*k], st.hdrs[k][:])
				setIovec(&st.iov[2*k+1], mem[lo:hi])
				payload += hi - lo
			}
			st.msg.Iov = &st.iov[0]
			st.msg.SetIovlen(2 * batch)
		}
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&st.msg)), 0)
		c.Syscalls++
		if e != 0 {
			if sent == 0 && (e == unix.EIO || unsupported(e)) {
				gsoBroken.Store(true)
				handled = false
				return false, errDone
			}
			return false, e
		}
		sent += int64(payload)
		c.Bytes += int64(payload)
		c.Packets += int64(batch)
		i, batch = i+batch, 0
		return false, nil
	})
	return sent, handled, wrapOp("sendmsg", err)
}

// StreamSendfile sends the file range [off, off+n) as bare datagrams of
// [PayloadSize] bytes, one sendfile call each and no header: the baseline
// the header tax is measured against. handled is false, with nothing sent,
// when the kernel refuses sendfile to this socket.
func StreamSendfile(dst syscall.Conn, src *os.File, off, n int64, c *Counts) (int64, bool, error) {
	ffd := int(src.Fd())
	pos := off
	handled := true
	err := writeLoop(dst, func(fd int) (bool, error) {
		if pos-off == n {
			return true, nil
		}
		want := int(min(PayloadSize, n-(pos-off)))
		m, err := unix.Sendfile(fd, ffd, &pos, want)
		c.Syscalls++
		if err != nil {
			if pos == off && unsupported(err) {
				handled = false
				return false, errDone
			}
			return false, err
		}
		if m != want {
			return false, fmt.Errorf("sent %d of %d bytes: %w", m, want, io.ErrShortWrite)
		}
		c.Bytes += int64(m)
		c.Packets++
		return false, nil
	})
	return pos - off, handled, wrapOp("sendfile", err)
}

// StreamSendfileHeader sends the file range [off, off+n) as datagrams of a
// header and a payload, the way the assessment's sendfile path did, with
// today's MSG_MORE instead of cork/uncork calls: send the header with
// MSG_MORE, then sendfile the payload, which completes the datagram. Two
// calls per datagram; only the header is copied.
func StreamSendfileHeader(dst syscall.Conn, src *os.File, off, n int64, first Header, c *Counts) (int64, error) {
	ffd := int(src.Fd())
	count := packets(int(n))
	var hdr [HeaderLen]byte
	var i int
	var corked bool // header of datagram i sent, payload not yet
	var sent int64
	err := writeLoop(dst, func(fd int) (bool, error) {
		if i == count {
			return true, nil
		}
		h, lo, hi := packet(first, i, count, int(n))
		if !corked {
			h.put(hdr[:])
			err := unix.Sendto(fd, hdr[:], unix.MSG_MORE, nil)
			c.Syscalls++
			if err != nil {
				return false, err
			}
			corked = true
		}
		pos := off + int64(lo)
		m, err := unix.Sendfile(fd, ffd, &pos, hi-lo)
		c.Syscalls++
		if err != nil {
			return false, err
		}
		if m != hi-lo {
			return false, fmt.Errorf("sent %d of %d bytes: %w", m, hi-lo, io.ErrShortWrite)
		}
		sent += int64(m)
		c.Bytes += int64(m)
		c.Packets++
		i, corked = i+1, false
		return false, nil
	})
	return sent, wrapOp("send header and sendfile", err)
}

// ReceiveDatagrams reads datagrams from src, 64 per recvmmsg call, and
// hands each to fn (the slice is reused after fn returns) until max
// datagrams arrived (max <= 0: until an error), fn fails or src's read
// deadline passes (an error that wraps os.ErrDeadlineExceeded). It is the
// cheap sink of the streaming bench.
func ReceiveDatagrams(src syscall.Conn, max int64, fn func([]byte) error, c *Counts) error {
	const size = 2048
	st := new(struct {
		bufs [mmsgBatch * size]byte
		iov  [mmsgBatch]unix.Iovec
		msgs [mmsgBatch]mmsghdr
	})
	for k := range mmsgBatch {
		setIovec(&st.iov[k], st.bufs[k*size:(k+1)*size])
		st.msgs[k].hdr.Iov = &st.iov[k]
		st.msgs[k].hdr.SetIovlen(1)
	}
	var got int64
	err := readLoop(src, func(fd int) (bool, error) {
		if max > 0 && got >= max {
			return true, nil
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&st.msgs[0])), mmsgBatch, 0, 0, 0)
		c.Syscalls++
		if e != 0 {
			return false, e
		}
		for k := range int(r) {
			b := st.bufs[k*size : k*size+int(st.msgs[k].n)]
			c.Packets++
			c.Bytes += int64(len(b))
			got++
			if err := fn(b); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return wrapOp("recvmmsg", err)
	}
	return err
}

// packet returns the header of datagram i of a stream that starts with
// first and has count datagrams, and the payload bounds in the source.
func packet(first Header, i, count, n int) (Header, int, int) {
	lo := i * PayloadSize
	hi := min(lo+PayloadSize, n)
	h := Header{
		Flags:      first.Flags &^ FlagEnd,
		PayloadLen: uint16(hi - lo),
		Seq:        first.Seq + uint32(i),
		Stream:     first.Stream,
	}
	if i == count-1 {
		h.Flags |= first.Flags & FlagEnd
	}
	return h, lo, hi
}

func setIovec(v *unix.Iovec, b []byte) {
	if len(b) == 0 {
		v.Base, v.Len = nil, 0
		return
	}
	v.Base = &b[0]
	v.SetLen(len(b))
}
