// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// The receive path. Every connection has a read token: whoever holds it
// reads the connection and cuts its stream (conn.r). Normally the
// connection's reader goroutine holds it and queues complete messages for
// the sockets (mux.ready). But a hand-off through the queue costs a
// goroutine wake-up per message, often on another thread, so while exactly
// one connection is attached a socket that finds the queue empty takes the
// token itself and reads its own message straight from the connection, as
// a raw TCP reader would (leader/follower). It queues any further messages
// that came with it and gives the token back.
//
// The reader goroutine reads when no receiver can: while more than one
// connection is attached; while receivers are blocked on the queue in
// greater number than the messages queued for them; when no socket took the
// token for a while (so messages are queued ahead, back-pressure holds and
// errors are noticed with nobody receiving); and for streamed messages.
// Otherwise it parks, and watches the receiving holder's context, whose end
// it turns into an interrupted read (a read deadline in the past).

// A holder says who holds a connection's read token.
type holder uint8

const (
	holderNone   holder = iota // nobody: the next receiver or the reader goroutine takes it
	holderReader               // the reader goroutine
	holderRecv                 // a receiving socket (conn.hsock)
	holderStream               // a message a receiving holder streams (conn.hstream), until released
	holderDead                 // the reader goroutine has exited
)

// defaultIdleAfter is how long the reader goroutine leaves the token to
// receivers that do not use it before it reads ahead itself (Mux.idleAfter).
const defaultIdleAfter = 10 * time.Millisecond

// maxIdleCheck bounds the interval between the reader goroutine's checks
// for idleness, which doubles from idleAfter while receivers keep reading:
// a busy connection costs it a few wake-ups a second, not one per idleAfter.
const maxIdleCheck = 250 * time.Millisecond

// readLoop is the connection's reader goroutine, owned by the mux.
func (c *conn) readLoop() {
	defer c.m.wg.Done()
	defer close(c.readerDone)
	err := c.readRun()
	if c.r.large != nil {
		c.r.large.Release()
		c.r.large = nil
	}
	switch {
	case errors.Is(err, errStopped):
		// Whoever stopped the reader completes the shutdown.
	case errors.Is(err, io.EOF) && c.load.Load() == 0:
		c.shutdown(nil, true) // closed between messages: simply detached
	case errors.Is(err, io.EOF):
		// Closed while a message was going out. If the peer reset the
		// connection, the writer's system call may have taken the
		// reset and left this read a plain end of file: an abort either
		// way, and the message is retried elsewhere.
		c.stats.rxAborts.Add(1)
		c.shutdown(fmt.Errorf("%w while sending: %w", errPeerClosed, err), true)
	default:
		c.stats.rxAborts.Add(1)
		c.shutdown(err, true)
	}
}

// shouldReadLocked reports whether the reader goroutine should read rather
// than leave the token to receivers.
func (c *conn) shouldReadLocked() bool {
	m := c.m
	return m.single.Load() != c || c.idle ||
		m.waiting.Load() > m.queued.Load() ||
		c.r.want >= m.cfg.StreamThreshold
}

// readRun takes the token when it should, cuts and reads, and parks
// otherwise, until the connection stops or fails.
func (c *conn) readRun() error {
	check := c.m.idleAfter
	timer := time.NewTimer(check)
	defer timer.Stop()
	armed, armGen := true, uint64(0)
	for {
		c.rmu.Lock()
		if c.stopping.Load() {
			if c.holder == holderStream {
				if c.endStreamStopped() {
					return errStopped
				}
				<-c.kick // its Release finishes it and kicks us
				continue
			}
			if c.holder == holderRecv {
				// The shutdown interrupts it; its release kicks us.
				c.rmu.Unlock()
				<-c.kick
				continue
			}
			c.holder = holderDead
			c.rmu.Unlock()
			return errStopped
		}
		if c.rerr != nil {
			err := c.rerr
			c.rerr = nil
			c.holder = holderDead
			c.rmu.Unlock()
			return err
		}
		if c.holder == holderNone && c.shouldReadLocked() {
			c.holder = holderReader
		}
		if c.holder == holderReader {
			c.rmu.Unlock()
			if _, err := c.r.cut(false); err != nil {
				return err
			}
			c.rmu.Lock()
			if c.m.waiting.Load() > 0 {
				c.idle = false
			}
			keep := c.shouldReadLocked()
			if !keep {
				c.holder = holderNone
			}
			c.rmu.Unlock()
			if keep {
				if err := c.r.fill(false); err != nil {
					return err
				}
			}
			continue
		}
		// Park: a receiver holds the token or may take it. Watch the
		// context of the last receiver: the next is likely to bring the
		// same, and then needs no kick.
		c.wdone = c.hdone
		wdone := c.wdone
		if !armed {
			armed, armGen = true, c.gen
			timer.Reset(check)
		}
		c.rmu.Unlock()
		select {
		case <-c.kick:
		case <-c.stop:
		case <-timer.C:
			armed = false
			c.rmu.Lock()
			if c.holder == holderNone && c.gen == armGen {
				c.idle = true
				check = c.m.idleAfter
			} else {
				check = min(2*check, max(maxIdleCheck, c.m.idleAfter))
			}
			c.rmu.Unlock()
		case <-wdone:
			c.rmu.Lock()
			if c.hdone == wdone {
				if c.holder == holderRecv {
					c.interruptLocked()
				}
				c.hdone = nil
			}
			// Otherwise a receiver took the token with another context
			// since we parked (and kicked us): keep it, and watch it
			// next, or its end would no longer cut its read short.
			c.wdone = nil
			c.rmu.Unlock()
		}
	}
}

// kickLocked wakes the parked reader goroutine.
func (c *conn) kickLocked() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// interruptLocked cuts the receiving holder's read short.
func (c *conn) interruptLocked() {
	c.intr.Store(true)
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
}

// interrupt cuts short the read of the receiving holder if it is s (or any
// receiving holder for a nil s), and wakes the reader goroutine.
func (c *conn) interrupt(s *Socket) {
	c.rmu.Lock()
	if c.holder == holderRecv && (s == nil || c.hsock == s) {
		c.interruptLocked()
	}
	c.kickLocked()
	c.rmu.Unlock()
}

// wakeReader hands a free token to the reader goroutine: receivers are
// waiting for more messages than are queued.
func (c *conn) wakeReader() {
	c.rmu.Lock()
	if c.holder == holderNone && !c.stopping.Load() {
		c.holder = holderReader
		c.kickLocked()
	}
	c.rmu.Unlock()
}

// receive is Socket.Receive on a mux with c as its only connection and an
// empty queue: s takes c's read token if it is free and reads a message
// itself. With done false, s was counted as waiting and must wait on the
// queue (the token is busy, or s's read was cut short and someone else
// reads on).
//
// With dst not nil (Recv), a message that fits is cut straight into dst:
// msg is then inDst and n its length.
func (c *conn) receive(ctx context.Context, s *Socket, dst []byte) (msg *Message, n int, err error, done bool) {
	m := c.m
	c.rmu.Lock()
	if c.holder != holderNone || c.stopping.Load() {
		m.waiting.Add(1)
		c.idle = false
		c.rmu.Unlock()
		return nil, 0, nil, false
	}
	if err := ctx.Err(); err != nil {
		c.rmu.Unlock()
		return nil, 0, err, true
	}
	c.holder, c.hsock = holderRecv, s
	c.gen++
	c.idle = false
	if d := ctx.Done(); d != nil {
		c.hdone = d
		if d != c.wdone {
			c.kickLocked() // the reader goroutine watches d from now on
		}
	}
	c.rmu.Unlock()

	s.reading.Store(c)
	if s.isClosed.Load() {
		err = ErrClosed
	} else {
		// Only token holders queue messages: an empty queue stays empty.
		select {
		case msg = <-m.ready:
			m.took()
		default:
			c.r.dst = dst
			msg, err = c.r.direct()
			n, c.r.dst, c.r.dstN = c.r.dstN, nil, 0
		}
	}
	s.reading.Store(nil)
	switch {
	case msg != nil && msg.st != nil:
		c.holdStream(msg.st)
		return msg, n, nil, true
	case msg != nil:
		c.release(false, nil)
		return msg, n, nil, true
	case errors.Is(err, ErrClosed):
		c.release(false, nil)
		return nil, 0, err, true
	case errors.Is(err, errInterrupted):
		if cerr := ctx.Err(); cerr != nil {
			c.release(false, nil)
			return nil, 0, cerr, true
		}
		if s.isClosed.Load() {
			c.release(false, nil)
			return nil, 0, ErrClosed, true
		}
		c.release(true, nil)
	case errors.Is(err, errStopped), errors.Is(err, errNeedReader):
		c.release(true, nil)
	default:
		// The connection failed: its reader goroutine shuts it down.
		c.release(true, err)
	}
	return nil, 0, nil, false
}

// release gives the token back after a receiver's read. With wait, the
// receiver is counted as waiting on the queue. The token goes straight to
// the reader goroutine if receivers wait for more messages than are queued,
// or if it has work only it can do.
func (c *conn) release(wait bool, rerr error) {
	m := c.m
	c.rmu.Lock()
	c.hsock = nil
	c.clearIntrLocked()
	if wait {
		m.waiting.Add(1)
		c.idle = false
	}
	c.giveBackLocked(rerr)
	c.rmu.Unlock()
}

// giveBackLocked returns the token, with rmu held: to the reader goroutine
// if rerr failed the connection or it should read, else to nobody. A
// shutdown only kicks the reader goroutine.
func (c *conn) giveBackLocked(rerr error) {
	c.holder = holderNone
	switch {
	case c.stopping.Load():
		c.kickLocked()
	case rerr != nil:
		c.rerr = rerr
		c.holder = holderReader
		c.kickLocked()
	case c.shouldReadLocked():
		c.holder = holderReader
		c.kickLocked()
	}
}

// clearIntrLocked, with rmu held, takes back an interrupt of the holder's
// read, if any came in, lifting its deadline unless shutting down. It
// reports whether there was one.
func (c *conn) clearIntrLocked() bool {
	if !c.intr.Load() {
		return false
	}
	c.intr.Store(false)
	if !c.stopping.Load() {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.r.dlSet, c.r.dlFresh = false, false
	return true
}

// took accounts for a message taken from the queue, and wakes the reader
// goroutine if that leaves receivers waiting with nobody reading.
func (m *Mux) took() {
	q := m.queued.Add(-1)
	if m.waiting.Load() > q {
		if c := m.single.Load(); c != nil {
			c.wakeReader()
		}
	}
}

// The token holder's streams. A receiving holder that finds a message of at
// least StreamThreshold bytes at the head of the connection returns it as a
// stream that it reads itself, as the reader goroutine's streams are read by
// their receiver, but without the two hand-offs (to the reader goroutine
// and back through the queue). The token then stays with the message
// (holderStream) until it is released: nobody else reads the connection,
// and nothing interrupts the stream's reads but a shutdown.

// holdStream passes the token from the receiving holder that cut st to st.
// An interrupt meant for the receiver's read may have come in meanwhile:
// it no longer concerns anybody, and must not cut the stream short.
func (c *conn) holdStream(st *stream) {
	c.rmu.Lock()
	c.hsock = nil
	if c.clearIntrLocked() {
		// The stream's clock starts again: the assembly deadline was lost
		// with the interrupt's.
		if err := c.r.setDeadline(true); err != nil {
			st.mu.Lock()
			st.failLocked(err)
			st.mu.Unlock()
		}
	}
	c.holder, c.hstream = holderStream, st
	c.rmu.Unlock()
}

// endStream is the release of a holder's stream that was not cut off by a
// shutdown: left bytes of it are still on the connection (to be skipped),
// or err ended it (the connection fails). It gives the token back as
// release does.
func (c *conn) endStream(left int64, err error) {
	c.rmu.Lock()
	c.hstream = nil
	if err == nil {
		c.r.afterStream(left)
	}
	c.giveBackLocked(err)
	c.rmu.Unlock()
}

// endStreamStopped cuts the holder's stream off for a shutdown, called by
// the reader goroutine with rmu held, which it unlocks. It reports false
// if the stream's Release got there first: that Release gives the token
// back (endStream) and kicks the reader goroutine.
func (c *conn) endStreamStopped() bool {
	st := c.hstream
	c.rmu.Unlock()
	st.mu.Lock()
	mine := !st.ended
	st.ended = true
	st.dead = true
	if mine && st.err == nil {
		st.err = fmt.Errorf("%w: connection detached", ErrTruncatedMessage)
	}
	st.mu.Unlock()
	if !mine {
		return false
	}
	c.rmu.Lock()
	c.holder, c.hstream = holderDead, nil
	c.rmu.Unlock()
	return true
}
