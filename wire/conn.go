// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a read deadline in the past: setting it wakes a blocked
// Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// A conn is one attached connection ("psock" in KCM): its reader goroutine's
// state and its write side.
//
// Lock order: Mux.mu is never held while acquiring wmu; pmu is innermost.
type conn struct {
	m     *Mux
	nc    net.Conn
	sock  *rawSock // nc's raw reads and writes (rawsock_linux.go); nil: nc's own
	id    int
	load  atomic.Int64 // bytes queued or being written
	stats connCounters

	stopping   atomic.Bool   // set before stop is closed and the read deadline moved
	stop       chan struct{} // closed when the connection is detached or aborted
	readerDone chan struct{} // closed when the reader goroutine returns
	streamDone chan struct{} // a streamed message was released (capacity 1)

	wmu       sync.Mutex  // held while writing to nc; guards the following fields
	iov       [][]byte    // backing array of the vectored write
	wv        net.Buffers // writev's, without sock
	spare     []*sendReq  // the previous batch's slice, reused as the next pending queue
	lastBatch int         // requests in the last vectored write

	pmu     sync.Mutex // guards the following fields
	pending []*sendReq // waiting for the wmu holder to write them
	wdead   bool       // no more writes: detached or failed

	// The read token (rx.go): whoever holds it, the reader goroutine or a
	// receiving socket, reads nc and owns r.
	rmu     sync.Mutex // guards the following fields
	holder  holder
	hsock   *Socket         // the receiving holder
	hstream *stream         // the holder's stream (holderStream)
	hdone   <-chan struct{} // the receiving holder's ctx.Done()
	wdone   <-chan struct{} // the channel the parked reader goroutine watches
	rerr    error           // a read error a receiving holder left to the reader goroutine
	gen     uint64          // times a receiver took the token
	idle    bool            // no receiver read for a while: the reader goroutine reads ahead

	intr atomic.Bool   // the receiving holder's read is being interrupted
	kick chan struct{} // wakes the parked reader goroutine (capacity 1)
	r    reader        // the read state: used by the token holder only
}

func newConn(m *Mux, nc net.Conn, id int) *conn {
	c := &conn{
		m:          m,
		nc:         nc,
		id:         id,
		stop:       make(chan struct{}),
		readerDone: make(chan struct{}),
		streamDone: make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		idle:       true,
	}
	c.sock = newRawSock(nc)
	c.r = reader{c: c, buf: make([]byte, m.cfg.ReadBufferSize)}
	return c
}

// read reads nc into p, with a raw system call where it can. Every read
// of the connection goes through read or readv, which count its bytes in
// the mux's Received.
func (c *conn) read(p []byte) (int, error) {
	if c.sock != nil {
		return c.readv(p, nil)
	}
	n, err := c.nc.Read(p)
	c.received(n)
	return n, err
}

// readv reads into a, then b, in one readv(2); c.sock must be set.
func (c *conn) readv(a, b []byte) (int, error) {
	n, err := c.sock.readv(a, b)
	c.received(n)
	return n, err
}

// received counts n bytes read from the connection.
func (c *conn) received(n int) {
	if n > 0 {
		c.m.received.Add(uint64(n))
	}
}

// write writes all of p to nc, with raw system calls where it can.
func (c *conn) write(p []byte) (int, error) {
	if c.sock != nil {
		return c.sock.write(p)
	}
	return c.nc.Write(p)
}

// writev writes all of bufs to nc, in one writev(2) where the socket takes
// it; one buffer goes with write(2), a little cheaper. c.wmu must be held.
func (c *conn) writev(bufs [][]byte) (int64, error) {
	switch {
	case c.sock != nil:
		return c.sock.writev(bufs)
	case len(bufs) == 1:
		n, err := c.nc.Write(bufs[0])
		return int64(n), err
	}
	c.wv = bufs
	return c.wv.WriteTo(c.nc)
}

// shutdown detaches c from its mux: it stops the reader, waits for it unless
// called from it, stops writes after the one in progress, and sends pending
// messages elsewhere. With a non-nil cause the connection is aborted: closed
// and reported to OnAbort. It reports false if c was no longer attached.
func (c *conn) shutdown(cause error, fromReader bool) bool {
	m := c.m
	m.mu.Lock()
	ok := m.removeLocked(c)
	m.mu.Unlock()
	if !ok {
		return false
	}
	c.stopping.Store(true)
	close(c.stop)
	abort := cause != nil
	if abort {
		_ = c.nc.Close()
	} else {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	if !fromReader {
		<-c.readerDone
	}

	c.wmu.Lock()
	c.pmu.Lock()
	c.wdead = true
	pend := c.pending
	c.pending = nil
	c.pmu.Unlock()
	c.wmu.Unlock()
	for _, r := range pend {
		r.done <- errRetry
	}

	if !abort {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	m.retiredConns.add(c.stats.snapshot())
	if abort {
		m.aborts.Add(1)
		if m.cfg.OnAbort != nil {
			m.cfg.OnAbort(&AbortError{Conn: c.nc, Err: cause})
		}
	}
	// Counted last: whoever sees the detach in Stats has seen its abort
	// reported too.
	m.detaches.Add(1)
	return true
}

// push queues msg for the sockets, waiting while the queue is full: this is
// where back-pressure stops the reader.
func (c *conn) push(msg *Message) (waited bool, err error) {
	m := c.m
	m.queued.Add(1)
	select {
	case m.ready <- msg:
		return false, nil
	default:
	}
	select {
	case m.ready <- msg:
		return true, nil
	case <-c.stop:
		m.queued.Add(-1)
		c.stats.rxReadyDrops.Add(1)
		msg.Release()
		return true, errStopped
	}
}

// tryPush queues msg if the queue has room and reports whether it did.
func (c *conn) tryPush(msg *Message) bool {
	m := c.m
	m.queued.Add(1)
	select {
	case m.ready <- msg:
		return true
	default:
		m.queued.Add(-1)
		return false
	}
}
