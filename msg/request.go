// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"fmt"
)

// A Request is a received request, from [Node.Receive]. Its sender waits
// until it is answered with [Request.Reply] or [Request.ReplyWithSegment];
// until then the receiver may move data from and to the sender's segment
// within the grant. After the answer (or once the sender gave up) every
// method returns [ErrNotAwaitingReply].
//
// The zero value is not a request. A Request is safe for concurrent use.
type Request struct {
	tx  *txn
	gen uint64
}

// Message returns the request's message. The slice is valid until the
// request is answered.
func (r *Request) Message() []byte {
	if r.tx == nil || r.tx.lockWaiting(r.gen) != nil {
		return nil
	}
	defer r.tx.mu.Unlock()
	return r.tx.msg
}

// Sender returns the node that sent the request.
func (r *Request) Sender() Peer {
	if r.tx == nil || r.tx.lockWaiting(r.gen) != nil {
		return Peer{}
	}
	defer r.tx.mu.Unlock()
	if r.tx.in != nil {
		return Peer{ID: r.tx.in.hello.Node, Addr: r.tx.in.hello.Addr}
	}
	return Peer{ID: r.tx.sender.id, Addr: r.tx.sender.Addr()}
}

// Grant returns the rights and length of the segment the sender granted;
// (0, 0) without a segment.
func (r *Request) Grant() (Access, int64) {
	if r.tx == nil || r.tx.lockWaiting(r.gen) != nil {
		return 0, 0
	}
	defer r.tx.mu.Unlock()
	return r.tx.access, r.tx.segLen
}

// Reply answers the request with m and ends the sender's grant. It does not
// wait for the sender: a reply to a remote sender whose connection is lost
// stays in the reply cache for its retransmission.
func (r *Request) Reply(m []byte) error {
	return r.reply(m, 0, nil, false)
}

// ReplyWithSegment answers the request with m and writes data into the
// sender's segment at segOff, in the same message: a read of the
// receiver's data in one round trip. It needs the [Write] right over
// [segOff, segOff+len(data)); data is at most [Config.MaxCarry] bytes. On
// error nothing is written and the request is still unanswered.
func (r *Request) ReplyWithSegment(m []byte, segOff int64, data []byte) error {
	return r.reply(m, segOff, data, true)
}

func (r *Request) reply(m []byte, segOff int64, data []byte, withSeg bool) error {
	if r.tx == nil {
		return ErrNotAwaitingReply
	}
	tx := r.tx
	if err := tx.lockWaiting(r.gen); err != nil {
		return err
	}
	if withSeg {
		if err := checkGrant(tx.access, Write, tx.segLen, segOff, int64(len(data))); err != nil {
			tx.mu.Unlock()
			return fmt.Errorf("msg: reply with segment: %w", err)
		}
	}
	if tx.in != nil {
		return tx.in.reply(tx, m, segOff, data, withSeg) // unlocks tx
	}
	cfg := &tx.sender.cfg
	if len(m) > cfg.MaxMessage || len(data) > cfg.MaxCarry {
		tx.mu.Unlock()
		return fmt.Errorf("msg: reply of %d bytes with %d segment bytes: %w", len(m), len(data), ErrMessageTooLarge)
	}
	if withSeg {
		if err := writeSeg(tx.seg, segOff, data); err != nil {
			tx.mu.Unlock()
			return fmt.Errorf("msg: reply with segment: %w", err)
		}
	}
	tx.reply = append(tx.dst, m...)
	tx.state = txnDone
	tx.mu.Unlock()
	tx.done <- struct{}{}
	return nil
}

// MoveFrom copies dst.Len() bytes of the sender's segment, starting at
// segOff, into dst (memory, or a file range written with splice for a
// remote sender). It needs the [Read] right over the whole range; otherwise
// it fails with [ErrAccess] or [ErrOutOfRange] and moves nothing.
func (r *Request) MoveFrom(ctx context.Context, segOff int64, dst Segment) error {
	if err := checkLocal(dst); err != nil {
		return fmt.Errorf("msg: move from: %w", err)
	}
	return r.move(ctx, Read, segOff, dst)
}

// MoveTo copies src (memory, or a file range sent with sendfile to a
// remote sender) into the sender's segment at segOff. It needs the [Write]
// right over [segOff, segOff+src.Len()); otherwise it fails with
// [ErrAccess] or [ErrOutOfRange] and moves nothing.
func (r *Request) MoveTo(ctx context.Context, segOff int64, src Segment) error {
	if err := checkSegment(src); err != nil {
		return fmt.Errorf("msg: move to: %w", err)
	}
	return r.move(ctx, Write, segOff, src)
}

func (r *Request) move(ctx context.Context, want Access, segOff int64, local Segment) error {
	if r.tx == nil || local == nil {
		return ErrNotAwaitingReply
	}
	tx := r.tx
	if err := tx.lockWaiting(r.gen); err != nil {
		return err
	}
	n := local.Len()
	if err := checkGrant(tx.access, want, tx.segLen, segOff, n); err != nil {
		tx.mu.Unlock()
		return fmt.Errorf("msg: move: %w", err)
	}
	if tx.in != nil {
		in, seq := tx.in, tx.seq
		if want == Read {
			// Carried bytes of a memory segment are the segment's
			// first bytes until the reply: take what they cover of
			// the range from them, move only the rest. They are
			// copied once the move-from for the rest is out, while
			// it travels.
			var k int64
			if tx.stable {
				k = carryCover(len(tx.carry), segOff, n)
			}
			tx.mu.Unlock()
			take := func() error {
				if k == 0 {
					return nil
				}
				if err := tx.lockWaiting(r.gen); err != nil {
					return err
				}
				defer tx.mu.Unlock()
				return writeSeg(local, 0, tx.carry[segOff:segOff+k])
			}
			if err := in.moveFrom(ctx, seq, segOff+k, subSegment(local, k), take); err != nil {
				return err
			}
			in.n.stats.movedFrom.Add(uint64(k))
			return nil
		}
		tx.mu.Unlock()
		return in.moveTo(ctx, seq, segOff, local)
	}
	// Local: copy while holding tx, so the sender cannot withdraw (and
	// reuse its segment) in the middle.
	defer tx.mu.Unlock()
	var err error
	if want == Read {
		err = copySeg(local, 0, tx.seg, segOff, n)
	} else {
		err = copySeg(tx.seg, segOff, local, 0, n)
	}
	if err != nil {
		return fmt.Errorf("msg: move: %w", err)
	}
	return nil
}

// checkLocal validates the local destination of a move.
func checkLocal(s Segment) error {
	switch s := s.(type) {
	case Bytes:
		return nil
	case FileRange:
		if s.File == nil || s.Offset < 0 || s.Length < 0 {
			return fmt.Errorf("file range off %d len %d: %w", s.Offset, s.Length, ErrOutOfRange)
		}
		return nil
	}
	return fmt.Errorf("segment %T: %w", s, ErrAccess)
}

// carryCover returns how many bytes of the range [segOff, segOff+n) the
// carried bytes (the segment's first carry bytes) cover: a prefix of the
// range, or nothing.
func carryCover(carry int, segOff, n int64) int64 {
	if segOff >= int64(carry) {
		return 0
	}
	return max(min(int64(carry)-segOff, n), 0)
}

// subSegment returns s without its first k bytes.
func subSegment(s Segment, k int64) Segment {
	if k == 0 {
		return s
	}
	switch s := s.(type) {
	case Bytes:
		return s[k:]
	case FileRange:
		return FileRange{File: s.File, Offset: s.Offset + k, Length: s.Length - k}
	}
	return s
}
