// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
)

// The test service: one request handler, run by in-process servers and by
// the helper process (TestMain), so one test body can run over every
// transport. A message is an op byte and big-endian arguments.
const (
	opEcho      = 'e' // reply = rest of message
	opWork      = 'w' // count++, reply "done"
	opCount     = 'c' // reply = count u64
	opMoveFrom  = 'F' // off u64, n u64, toFile u8: MoveFrom, reply = sha256 of the bytes
	opMoveTo    = 'T' // off u64, n u64, seed u8, fromFile u8: MoveTo pattern(seed, n)
	opCarry     = 'R' // reply = the segment bytes that came with the message
	opReplySeg  = 'G' // off u64, data: ReplyWithSegment("ok", off, data)
	opGrant     = 'g' // reply = access u8, segLen u64
	opNoReply   = 'n' // never answered (the sender's context must end the Send)
	opMoveSteps = 'S' // off u64, n u64, step u64, toFile u8: MoveFrom in steps, reply = sha256
	opReplyLong = 'L' // off u64, n u64, seed u8, fromFile u8: count++, ReplyWithSegment("ok", off, pattern(seed, n))
	errorPrefix = "ERR:"
)

// service runs the test service until ctx ends. work, if set, is called
// for opWork after counting and before replying.
type service struct {
	count atomic.Uint64
	work  func(r *Request)
	after func() // called after opWork's reply
	dir   string // for file destinations and sources
	// plain receives with Receive, not ReceiveWithSegment: a streamed
	// carry is then left whole for MoveFrom.
	plain bool
	// beforeMove, if set, is called before the moves of opMoveFrom and
	// opMoveSteps.
	beforeMove func()
}

func (s *service) run(ctx context.Context, n *Node) error {
	buf := make([]byte, 64<<10)
	for {
		var (
			r   *Request
			k   int
			err error
		)
		if s.plain {
			r, err = n.Receive(ctx)
		} else {
			r, k, err = n.ReceiveWithSegment(ctx, buf)
		}
		if err != nil {
			return err
		}
		s.handle(ctx, r, buf[:k])
	}
}

// errName names the sentinel an error matches, so that it survives the
// trip back from a helper process.
func errName(err error) string {
	for _, e := range []error{
		ErrAccess, ErrOutOfRange, ErrNotAwaitingReply, ErrProtocol,
		ErrSegmentBeyondFile, ErrMessageTooLarge, ErrClosed,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

func errReply(r *Request, err error) { _ = r.Reply([]byte(errorPrefix + errName(err))) }

func (s *service) handle(ctx context.Context, r *Request, carry []byte) {
	m := r.Message()
	if len(m) == 0 {
		_ = r.Reply(nil)
		return
	}
	args := m[1:]
	u64 := func(i int) int64 { return int64(binary.BigEndian.Uint64(args[8*i:])) }
	switch m[0] {
	case opEcho:
		_ = r.Reply(args)
	case opWork:
		s.count.Add(1)
		if s.work != nil {
			s.work(r)
		}
		_ = r.Reply([]byte("done"))
		if s.after != nil {
			s.after()
		}
	case opCount:
		_ = r.Reply(binary.BigEndian.AppendUint64(nil, s.count.Load()))
	case opCarry:
		_ = r.Reply(carry)
	case opGrant:
		a, l := r.Grant()
		_ = r.Reply(binary.BigEndian.AppendUint64([]byte{byte(a)}, uint64(l)))
	case opMoveFrom, opMoveSteps:
		off, n := u64(0), u64(1)
		step, toFile := n, args[16] == 1
		if m[0] == opMoveSteps {
			step, toFile = u64(2), args[24] == 1
		}
		if s.beforeMove != nil {
			s.beforeMove()
		}
		var data []byte
		if toFile {
			f, err := os.CreateTemp(s.dir, "movefrom")
			if err != nil {
				errReply(r, err)
				return
			}
			defer func() {
				_ = f.Close()
				_ = os.Remove(f.Name())
			}()
			for o := int64(0); o < n; o += step {
				k := min(step, n-o)
				if err := r.MoveFrom(ctx, off+o, FileRange{File: f, Offset: 7 + o, Length: k}); err != nil {
					errReply(r, err)
					return
				}
			}
			data = make([]byte, n)
			if _, err := f.ReadAt(data, 7); err != nil {
				errReply(r, err)
				return
			}
		} else {
			data = make([]byte, n)
			for o := int64(0); o < n; o += step {
				k := min(step, n-o)
				if err := r.MoveFrom(ctx, off+o, Bytes(data[o:o+k])); err != nil {
					errReply(r, err)
					return
				}
			}
		}
		sum := sha256.Sum256(data)
		_ = r.Reply(sum[:])
	case opMoveTo:
		off, n, seed, fromFile := u64(0), u64(1), args[16], args[17] == 1
		src, done, err := s.source(n, seed, fromFile)
		if err != nil {
			errReply(r, err)
			return
		}
		defer done()
		if err := r.MoveTo(ctx, off, src); err != nil {
			errReply(r, err)
			return
		}
		_ = r.Reply([]byte("ok"))
	case opReplyLong:
		off, n, seed, fromFile := u64(0), u64(1), args[16], args[17] == 1
		s.count.Add(1)
		src, done, err := s.source(n, seed, fromFile)
		if err != nil {
			errReply(r, err)
			return
		}
		defer done()
		if s.work != nil {
			s.work(r)
		}
		if err := r.ReplyWithSegment([]byte("ok"), off, src); err != nil {
			errReply(r, err)
		}
		if s.after != nil {
			s.after()
		}
	case opReplySeg:
		if err := r.ReplyWithSegment([]byte("ok"), u64(0), Bytes(args[8:])); err != nil {
			errReply(r, err)
		}
	case opNoReply:
	default:
		_ = r.Reply([]byte(errorPrefix + "unknown op"))
	}
}

// source returns pattern(seed, n) as a segment: memory, or a range of a
// file in the service's directory, which done closes and removes.
func (s *service) source(n int64, seed byte, fromFile bool) (Segment, func(), error) {
	data := pattern(seed, int(n))
	if !fromFile {
		return Bytes(data), func() {}, nil
	}
	f, err := os.CreateTemp(s.dir, "src")
	if err != nil {
		return nil, nil, err
	}
	done := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	if _, err := f.WriteAt(data, 3); err != nil {
		done()
		return nil, nil, err
	}
	return FileRange{File: f, Offset: 3, Length: n}, done, nil
}

// pattern returns n bytes seed, seed+1, ...
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func moveFromMsg(off, n int64, toFile bool) []byte {
	b := binary.BigEndian.AppendUint64([]byte{opMoveFrom}, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	return append(b, boolByte(toFile))
}

func moveStepsMsg(off, n, step int64, toFile bool) []byte {
	b := binary.BigEndian.AppendUint64([]byte{opMoveSteps}, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	b = binary.BigEndian.AppendUint64(b, uint64(step))
	return append(b, boolByte(toFile))
}

func moveToMsg(off, n int64, seed byte, fromFile bool) []byte {
	b := binary.BigEndian.AppendUint64([]byte{opMoveTo}, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	return append(b, seed, boolByte(fromFile))
}

func replyLongMsg(off, n int64, seed byte, fromFile bool) []byte {
	b := binary.BigEndian.AppendUint64([]byte{opReplyLong}, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	return append(b, seed, boolByte(fromFile))
}

func replySegMsg(off int64, data []byte) []byte {
	b := binary.BigEndian.AppendUint64([]byte{opReplySeg}, uint64(off))
	return append(b, data...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
