// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"fmt"
	"io"

	"github.com/pollen-dev/pollen/wire"
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
	return r.reply(m, 0, nil)
}

// ReplyWithSegment answers the request with m and writes src (memory, or a
// file range sent with sendfile to a remote sender) into the sender's
// segment at segOff, in the same message: a read of the receiver's data in
// one round trip, with no acknowledgement of the data to wait for. It
// needs the [Write] right over [segOff, segOff+src.Len()); on such an
// error, or a file range beyond its file, nothing is written and the
// request is still unanswered.
//
// Data up to [Config.MaxCarry] bytes is kept in the reply cache with the
// reply. Longer data is sent from where it lies and not kept: the request
// counts as answered once the reply is sent, and if it does not reach the
// sender (its connection fails meanwhile) the sender's Send fails with
// [ErrReplyLost]; the request never runs twice. Data beyond
// [MaxFrameData] bytes, or any data beyond MaxCarry to a sender of a
// protocol version before 4, is moved first as [Request.MoveTo] does.
func (r *Request) ReplyWithSegment(m []byte, segOff int64, src Segment) error {
	if src == nil {
		src = Bytes(nil)
	}
	if err := checkSegment(src); err != nil {
		return fmt.Errorf("msg: reply with segment: %w", err)
	}
	return r.reply(m, segOff, src)
}

// reply answers the request with m and, if src is not nil, writes src into
// the sender's segment at segOff.
func (r *Request) reply(m []byte, segOff int64, src Segment) error {
	if r.tx == nil {
		return ErrNotAwaitingReply
	}
	tx := r.tx
	if err := tx.lockWaiting(r.gen); err != nil {
		return err
	}
	n := segLen(src)
	if src != nil {
		if err := checkGrant(tx.access, Write, tx.segLen, segOff, n); err != nil {
			tx.mu.Unlock()
			return fmt.Errorf("msg: reply with segment: %w", err)
		}
	}
	if in := tx.in; in != nil {
		if len(m) > in.n.cfg.MaxMessage {
			tx.mu.Unlock()
			return fmt.Errorf("msg: reply of %d bytes: %w", len(m), ErrMessageTooLarge)
		}
		if lead := in.replyLead(n); lead > 0 {
			// Too long for one reply frame, or a sender that cannot
			// take it in one: move the first bytes, then reply.
			tx.mu.Unlock()
			if err := r.move(in.n.ctx, Write, segOff, sliceSegment(src, 0, lead)); err != nil {
				return fmt.Errorf("msg: reply with segment: %w", err)
			}
			if err := tx.lockWaiting(r.gen); err != nil {
				return err
			}
			segOff, src = segOff+lead, subSegment(src, lead)
		}
		return in.reply(tx, m, segOff, src) // unlocks tx
	}
	cfg := &tx.sender.cfg
	if len(m) > cfg.MaxMessage {
		tx.mu.Unlock()
		return fmt.Errorf("msg: reply of %d bytes: %w", len(m), ErrMessageTooLarge)
	}
	if n > 0 {
		if err := copySeg(tx.seg, segOff, src, 0, n); err != nil {
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
		if want == Read {
			return r.moveFromRemote(ctx, segOff, local) // unlocks tx
		}
		in, seq := tx.in, tx.seq
		// The move-done comes back on the session: a streamed carry
		// must not hold its connection meanwhile.
		push := tx.takePushLocked()
		tx.mu.Unlock()
		if push != nil {
			push.Release()
		}
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

// moveFromRemote is MoveFrom of a remote request, whose txn is locked and
// waiting, with the grant checked; it unlocks it.
//
// Carried bytes of a memory segment (stable) are the segment's first bytes
// until the reply: MoveFrom takes what they cover of the range from them
// and moves only the rest. A buffered carry is copied; a streamed one,
// still on the connection, is read straight into dst if the range reaches
// its next byte (anything else releases it: the move-from's data would
// wait behind it). The carried part is taken once the move-from for the
// rest is out, while it travels; if the stream breaks, what it did not
// deliver is moved afterwards.
func (r *Request) moveFromRemote(ctx context.Context, segOff int64, dst Segment) error {
	tx := r.tx
	in, seq, n := tx.in, tx.seq, dst.Len()
	end := segOff + n
	var k1 int64 // from the buffered carry
	if tx.stable {
		k1 = carryCover(len(tx.carry), segOff, n)
	}
	pos := segOff + k1
	var (
		push    *wire.Message
		k2      int64 // from the streamed carry, at pos
		pushEnd = tx.pushEnd
	)
	var skip int64 // stream bytes before pos
	if tx.push != nil && pos < end {
		push = tx.takePushLocked()
		if pos >= tx.pushOff && pos < pushEnd {
			skip, k2 = pos-tx.pushOff, min(end, pushEnd)-pos
		} else {
			push.Release()
			push = nil
		}
	}
	tx.mu.Unlock()
	broke := int64(-1) // the segment offset where the stream broke
	take := func() error {
		if k1 > 0 {
			if err := tx.lockWaiting(r.gen); err != nil {
				return err
			}
			err := writeSeg(dst, 0, tx.carry[segOff:segOff+k1])
			tx.mu.Unlock()
			if err != nil {
				return err
			}
		}
		if push != nil {
			var got int64
			var err error
			if skip > 0 {
				_, err = io.CopyN(io.Discard, push, skip) // as cheap as the release would be
			}
			if err == nil {
				got, err = readStream(push, dst, k1, k2, pos+k2 == pushEnd)
				in.n.stats.carriedTaken.Add(uint64(got))
			}
			if err != nil || pos+k2 == pushEnd {
				// Broken, or read to its end: the connection goes on
				// (the move's data comes behind it).
				push.Release()
				push = nil
			}
			if err != nil {
				broke = pos + got
			}
		}
		return nil
	}
	var err error
	if rest := end - pos - k2; rest > 0 {
		err = in.moveFrom(ctx, seq, pos+k2, subSegment(dst, k1+k2), take)
	} else if err = take(); err != nil {
		err = fmt.Errorf("msg: move from: %w", err)
	}
	if push != nil {
		if err == nil {
			tx.givePushBack(r.gen, push, pos+k2, in.n.cfg.pushHold())
		} else {
			push.Release()
		}
	}
	if err == nil && broke >= 0 {
		// The stream broke with its connection: move what it lacked.
		err = in.moveFrom(ctx, seq, broke, sliceSegment(dst, broke-segOff, pos+k2-broke), nil)
	}
	if err != nil {
		return err
	}
	if broke >= 0 {
		k2 = broke - pos // the rest was counted by its move
	}
	in.n.stats.movedFrom.Add(uint64(k1 + k2))
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

// sliceSegment returns the n bytes of s at off.
func sliceSegment(s Segment, off, n int64) Segment {
	switch s := s.(type) {
	case Bytes:
		return s[off : off+n]
	case FileRange:
		return FileRange{File: s.File, Offset: s.Offset + off, Length: n}
	}
	return s
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
