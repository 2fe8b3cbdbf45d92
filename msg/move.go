// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// Remote moves. The mover (the receiver of a request) sends move-from or
// move-to frames on the request's session; the owner (the request's sender)
// checks every one against the grant of the Send still waiting, and answers
// with data frames or one move-done. The mover checks what comes back
// against what it asked for. Neither side trusts the other.

// A mover waits for the frames of one move it started.
type mover struct {
	ch      chan moveMsg  // data and move-done frames read by other goroutines
	quit    chan struct{} // closed by endMover
	wait    waitCtx       // ends the mover's own read of the session
	stalled atomic.Bool   // the stall timer fired
	timer   *time.Timer   // sets stalled and wakes wait
	stopCtx func() bool   // stops the wake at the end of the mover's context
	head    [dataHeaderLen]byte

	mu     sync.Mutex // guards closed
	closed bool
}

// moverQueue is the number of frames a mover may have waiting; the
// session's reader waits (and wire holds back the connection) beyond it.
const moverQueue = 8

// A moveMsg is a data or move-done frame for a mover. For a streamed
// message, head holds the frame's first bytes, already read from it.
type moveMsg struct {
	m    *wire.Message
	head []byte // the whole frame (buffered) or its first dataHeaderLen bytes
	buf  [dataHeaderLen]byte
}

// maxMovesPerCall bounds the move-to operations tracked for one Send.
const maxMovesPerCall = 64

// newMover registers a move. While the mover waits for the move's frames
// (next) it is one of the session's readers (direct.go), so they usually
// reach it without a hand-off; while it sends or writes it is not, so the
// session's loop (or a Receive) reads and answers retransmissions.
func (in *inPeer) newMover(ctx context.Context, stall time.Duration) (uint64, *mover) {
	mv := &mover{ch: make(chan moveMsg, moverQueue), quit: make(chan struct{})}
	mv.wait.done = make(chan struct{})
	mv.timer = time.AfterFunc(stall, func() {
		mv.stalled.Store(true)
		mv.wait.wake()
	})
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, mv.wait.wake)
		mv.stopCtx = stop
	}
	in.mu.Lock()
	in.nextMove++
	id := in.nextMove
	in.moves[id] = mv
	in.mu.Unlock()
	return id, mv
}

func (in *inPeer) endMover(id uint64, mv *mover) {
	mv.timer.Stop()
	if mv.stopCtx != nil {
		mv.stopCtx()
	}
	in.mu.Lock()
	delete(in.moves, id)
	in.mu.Unlock()
	mv.mu.Lock()
	mv.closed = true
	mv.mu.Unlock()
	close(mv.quit)
	mv.drain()
}

// drain releases the frames waiting for a mover that ended.
func (mv *mover) drain() {
	for {
		select {
		case mm := <-mv.ch:
			mm.m.Release()
		default:
			return
		}
	}
}

// deliver hands a data or move-done frame to its mover, or drops it. A
// frame for self (the mover whose goroutine read it) is returned instead.
func (in *inPeer) deliver(id uint64, m *wire.Message, head []byte, self *mover) (moveMsg, bool) {
	mm := moveMsg{m: m, head: head}
	if m.Bytes() == nil {
		copy(mm.buf[:], head)
		mm.head = nil // set by the receiver: mm is copied through the channel
	}
	in.mu.Lock()
	mv := in.moves[id]
	in.mu.Unlock()
	if mv != nil && mv == self {
		return mm, true
	}
	if mv != nil {
		select {
		case mv.ch <- mm:
			mv.wait.wake()
			mv.mu.Lock()
			closed := mv.closed
			mv.mu.Unlock()
			if closed {
				mv.drain() // endMover may have drained before the send
			}
			return moveMsg{}, false
		case <-mv.quit:
		}
	}
	in.n.stats.badFrames.Add(1)
	m.Release()
	return moveMsg{}, false
}

// next returns the next frame of the move mv: one another goroutine read,
// or one this goroutine reads from the session, dispatching the frames
// that belong to others. errStalled after stall without a frame. Only
// while it waits here is the mover a reader of the session: a mover that
// stays one while it sends its chunks or writes its data leaves the
// session unread, and the sender's retransmissions unanswered, for as
// long (its keeper then drops the connection under the move).
func (in *inPeer) next(ctx context.Context, mv *mover) (moveMsg, error) {
	select {
	case mm := <-mv.ch:
		return mm, nil
	default:
	}
	in.enterReader()
	defer in.leaveReader()
	for {
		select {
		case mm := <-mv.ch:
			return mm, nil
		default:
		}
		m, err := in.sock.Receive(&mv.wait)
		if err == nil {
			in.active.Store(true)
			ref, own, res := in.dispatch(m, mv.head[:], mv, false)
			switch res {
			case dispatchRequest:
				in.queue(ref)
			case dispatchOwn:
				return own, nil
			}
			continue
		}
		if mv.stalled.Load() {
			return moveMsg{}, errStalled
		}
		if err := ctx.Err(); err != nil {
			return moveMsg{}, err
		}
		if !errors.Is(err, errWoken) {
			return moveMsg{}, ErrClosed // the session's mux is closed
		}
		mv.wait.reset()
	}
}

// errStalled ends a move attempt that made no progress for a while: its
// frames were probably lost with a connection.
var errStalled = errors.New("msg: move stalled")

// retryMove runs attempt until it succeeds or fails for a reason other than
// a stall or a lost connection; each retry is a new move, and the data is
// moved again from the start (the seed's "retransmission of all packets").
func (in *inPeer) retryMove(what string, attempt func(stall time.Duration) error) error {
	stall := 2 * in.n.cfg.RetransmitInterval
	for i := 0; ; i++ {
		err := attempt(stall)
		if err == nil {
			return nil
		}
		lost := errors.Is(err, errStalled) || errors.Is(err, wire.ErrTruncatedMessage) || errors.Is(err, wire.ErrAssemblyTimeout)
		if !lost {
			return fmt.Errorf("msg: %s: %w", what, err)
		}
		if i >= in.n.cfg.MaxRetransmits {
			return fmt.Errorf("msg: %s: %w: %w", what, ErrUnreachable, err)
		}
		in.n.stats.moveRetries.Add(1)
	}
}

// moveFrom asks the owner for [segOff, segOff+dst.Len()) and writes the
// data frames into dst. The grant was checked by the caller. meanwhile
// (once, nil error if it has nothing to do) is the caller's own work on
// the destination, done once the move-from frame is out, while it travels;
// it is not run when dst is empty (nothing is asked for).
func (in *inPeer) moveFrom(ctx context.Context, seq uint64, segOff int64, dst Segment, meanwhile func() error) error {
	n := dst.Len()
	if n == 0 {
		return nil
	}
	err := in.retryMove("move from", func(stall time.Duration) error {
		id, mv := in.newMover(ctx, stall)
		defer in.endMover(id, mv)
		var buf [64]byte
		req, _ := moveFromFrame{Seq: seq, Move: id, Off: segOff, N: n}.Append(buf[:0])
		if err := in.sock.Send(ctx, req); err != nil {
			return err
		}
		if meanwhile != nil {
			err := meanwhile()
			meanwhile = nil
			if err != nil {
				return err
			}
		}
		for got := int64(0); got < n; {
			mm, err := in.next(ctx, mv)
			if err != nil {
				return err
			}
			k, err := takeData(&mm, segOff, n, dst)
			if err != nil {
				return err
			}
			got += k
			mv.timer.Reset(stall)
		}
		return nil
	})
	if err == nil {
		in.n.stats.movedFrom.Add(uint64(n))
	}
	return err
}

// takeData writes one data frame of a move of [segOff, segOff+n) into dst,
// checking that it lies inside the range asked for; a move-done frame is
// the owner's error. It releases m.
func takeData(mm *moveMsg, segOff, n int64, dst Segment) (int64, error) {
	m := mm.m
	defer m.Release()
	b := m.Bytes()
	head := mm.head
	if b == nil {
		head = mm.buf[:]
	}
	if typ, _ := frameTypeOf(head); typ == frameMoveDone {
		f, _, err := parseMoveDone(b)
		if err != nil {
			return 0, err
		}
		if f.Status == statusOK {
			return 0, fmt.Errorf("move done before its data: %w", ErrProtocol)
		}
		return 0, remoteErr(f.Status, f.Detail)
	}
	f, k, err := parseDataHead(head, m.Len())
	if err != nil {
		return 0, err
	}
	if k < 0 || f.Off < segOff || !inRange(f.Off-segOff, k, n) {
		return 0, fmt.Errorf("data [%d, %d) for a move of [%d, %d): %w", f.Off, f.Off+k, segOff, segOff+n, ErrProtocol)
	}
	at := f.Off - segOff
	switch d := dst.(type) {
	case Bytes:
		if b != nil {
			copy(d[at:at+k], b[dataHeaderLen:])
		} else if _, err := readFull(m, d[at:at+k]); err != nil {
			return 0, err
		}
	case FileRange:
		var w int64
		if b != nil {
			var wn int
			wn, err = d.File.WriteAt(b[dataHeaderLen:], d.Offset+at)
			w = int64(wn)
		} else {
			w, err = m.WriteToFile(d.File, d.Offset+at)
		}
		if err == nil && w != k {
			err = fmt.Errorf("wrote %d of %d bytes: %w", w, k, ErrProtocol)
		}
		if err != nil {
			return 0, err
		}
	}
	return k, nil
}

// readStream reads k bytes of the streamed carry m into dst at at: into
// memory with reads straight from the connection, into a file with splice
// when they are the rest of the carry (toEnd). It returns how many bytes
// it wrote; on error the stream is broken (its connection failed) and the
// caller releases it.
func readStream(m *wire.Message, dst Segment, at, k int64, toEnd bool) (int64, error) {
	switch d := dst.(type) {
	case Bytes:
		got, err := readFull(m, d[at:at+k])
		return int64(got), err
	case FileRange:
		if toEnd {
			w, err := m.WriteToFile(d.File, d.Offset+at)
			if err == nil && w != k {
				err = fmt.Errorf("wrote %d of %d carried bytes: %w", w, k, ErrProtocol)
			}
			return w, err
		}
		got, err := io.CopyN(io.NewOffsetWriter(d.File, d.Offset+at), m, k)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("carry of %d bytes: %w", m.Len(), ErrMalformed)
		}
		return got, err
	}
	return 0, ErrAccess
}

// moveTo sends src to the owner's segment at segOff in chunks and waits for
// the owner's single acknowledgement. The grant was checked by the caller.
func (in *inPeer) moveTo(ctx context.Context, seq uint64, segOff int64, src Segment) error {
	n := src.Len()
	if n == 0 {
		return nil
	}
	err := in.retryMove("move to", func(stall time.Duration) error {
		id, mv := in.newMover(ctx, stall)
		defer in.endMover(id, mv)
		for o := int64(0); o < n; {
			k := min(int64(in.n.cfg.MaxChunk), n-o)
			h := moveToFrame{Seq: seq, Move: id, Start: segOff, Total: n, Off: segOff + o}
			if err := sendChunk(ctx, in.sock, h, src, o, k); err != nil {
				return err
			}
			o += k
			if len(mv.ch) > 0 {
				break // the owner refused early
			}
		}
		mv.timer.Reset(stall)
		mm, err := in.next(ctx, mv)
		if err != nil {
			return err
		}
		defer mm.m.Release()
		f, _, err := parseMoveDone(mm.m.Bytes())
		if err != nil {
			return fmt.Errorf("move-done expected: %w", ErrProtocol)
		}
		return remoteErr(f.Status, f.Detail)
	})
	if err == nil {
		in.n.stats.movedTo.Add(uint64(n))
	}
	return err
}

// A chunkHead is a data or move-to frame without its bytes.
type chunkHead interface {
	appendHead(b []byte, n int) ([]byte, error)
}

// sendChunk sends one frame with k bytes of src at o: a file range with
// sendfile, memory with one writev of the header and the bytes in place.
func sendChunk(ctx context.Context, sock *wire.Socket, h chunkHead, src Segment, o, k int64) error {
	var hb [moveToHeaderLen]byte
	head, err := h.appendHead(hb[:0], int(k))
	if err != nil {
		return err
	}
	switch s := src.(type) {
	case FileRange:
		return sock.SendFile(ctx, head, s.File, s.Offset+o, k)
	case Bytes:
		return sock.SendVec(ctx, head, s[o:o+k])
	}
	return ErrAccess
}

// serveMoveFrom answers a move-from of the Send c with data frames. It runs
// in its own goroutine and holds c.segMu shared (released here).
func (op *outPeer) serveMoveFrom(c *call, f moveFromFrame) {
	defer c.segMu.RUnlock()
	err := checkGrant(c.access, Read, c.segLen, f.Off, f.N)
	if err == nil && c.seg == nil {
		err = ErrNotAwaitingReply
	}
	if fr, ok := c.seg.(FileRange); ok && err == nil {
		// A file that shrank since the Send would abort the connection
		// in the middle of a data frame; refuse the move instead.
		err = checkSegment(FileRange{File: fr.File, Offset: fr.Offset + f.Off, Length: f.N})
	}
	if err != nil {
		op.n.stats.grantViolations.Add(1)
		op.sendMoveDone(f.Move, err)
		return
	}
	end := f.Off + f.N
	for o := f.Off; o < end; {
		k := min(int64(op.n.cfg.MaxChunk), end-o)
		h := dataFrame{Move: f.Move, Off: o}
		if err := sendChunk(op.n.ctx, op.sock, h, c.seg, o, k); err != nil {
			op.sendMoveDone(f.Move, err)
			return
		}
		o += k
	}
}

// A moveToState tracks one move-to into a Send's segment.
type moveToState struct {
	remaining int64
	err       error
	reported  bool
}

// receiveMoveTo writes one move-to frame into the segment of its Send if
// the grant allows, and acknowledges the move once it is complete or has
// failed.
func (op *outPeer) receiveMoveTo(m *wire.Message, head []byte) {
	defer m.Release()
	f, k, err := parseMoveToHead(head, m.Len())
	if err != nil || k < 0 {
		op.protocolError(nil, err)
		return
	}
	c := op.holdCall(f.Seq)
	if c == nil {
		op.sendMoveDone(f.Move, ErrNotAwaitingReply)
		return
	}
	defer c.segMu.RUnlock()
	c.movesMu.Lock()
	st := c.moves[f.Move]
	if st == nil {
		st = &moveToState{remaining: f.Total}
		if err := checkGrant(c.access, Write, c.segLen, f.Start, f.Total); err != nil {
			op.n.stats.grantViolations.Add(1)
			st.err = err
		} else if len(c.moves) >= maxMovesPerCall {
			st.err = fmt.Errorf("%d moves into one segment: %w", len(c.moves), ErrBusy)
		}
		if c.moves == nil {
			c.moves = map[uint64]*moveToState{}
		}
		c.moves[f.Move] = st
	}
	if st.err == nil && (f.Off < f.Start || !inRange(f.Off-f.Start, k, f.Total) || !inRange(f.Off, k, c.segLen)) {
		op.n.stats.grantViolations.Add(1)
		st.err = fmt.Errorf("chunk [%d, %d) of a move of [%d, %d): %w", f.Off, f.Off+k, f.Start, f.Start+f.Total, ErrOutOfRange)
	}
	failed := st.err != nil
	c.movesMu.Unlock()
	// Frames of one move may be written by several goroutines at once
	// (each waiting Send reads the session): into disjoint ranges, or the
	// same bytes again.
	var err2 error
	if !failed {
		err2 = writeChunk(m, c.seg, f.Off, k)
	}
	c.movesMu.Lock()
	if st.err == nil {
		st.err = err2
	}
	st.remaining -= k
	report := (st.err != nil || st.remaining <= 0) && !st.reported
	st.reported = st.reported || report
	err = st.err
	c.movesMu.Unlock()
	if report {
		op.sendMoveDone(f.Move, err)
	}
}

// writeChunk writes the rest of m (k bytes) into seg at off, with splice
// for a streamed message into a file.
func writeChunk(m *wire.Message, seg Segment, off, k int64) error {
	b := m.Bytes()
	switch s := seg.(type) {
	case Bytes:
		if b != nil {
			copy(s[off:off+k], b[moveToHeaderLen:])
			return nil
		}
		_, err := readFull(m, s[off:off+k])
		return err
	case FileRange:
		if b != nil {
			_, err := s.File.WriteAt(b[moveToHeaderLen:], s.Offset+off)
			return err
		}
		w, err := m.WriteToFile(s.File, s.Offset+off)
		if err == nil && w != k {
			err = fmt.Errorf("wrote %d of %d bytes: %w", w, k, ErrProtocol)
		}
		return err
	}
	return ErrAccess
}

// sendMoveDone reports the end of a move to the mover.
func (op *outPeer) sendMoveDone(move uint64, err error) {
	var buf [64 + maxDetail]byte
	f := moveDoneFrame{Move: move, Status: statusOf(err), Detail: []byte(detailOf(err))}
	b, ferr := f.Append(buf[:0])
	if ferr != nil {
		return
	}
	_ = op.sock.Send(op.n.ctx, b)
}
