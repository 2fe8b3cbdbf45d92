// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"os"

	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/stream"
	"github.com/pollen-dev/pollen/msg"
)

// serve receives GetPiece requests until the daemon closes and hands each
// to one of UploadSlots upload workers; when every worker is busy a
// request is answered Miss{busy} at once. The workers live as long as
// serve: a new goroutine per request grew its stack anew for every piece
// (stack growth was 7 % of a seed's CPU on loopback). Requests come
// through [msg.Node.Serve], which keeps one receiver for the whole loop
// instead of allocating a request and registering a context callback
// per Receive.
func (d *Daemon) serve() {
	slots := make(chan struct{}, d.cfg.UploadSlots)
	work := make(chan uploadReq, d.cfg.UploadSlots) // never full: a send holds a slot
	defer close(work)
	for range d.cfg.UploadSlots {
		if !d.goroutine(func() {
			for u := range work {
				d.upload(&u.r, u.gp)
				<-slots
			}
		}) {
			return // closing
		}
	}
	_ = d.node.Serve(d.ctx, func(_ context.Context, r *msg.Request) {
		m, err := proto.Decode(r.Message())
		gp, ok := m.(*proto.GetPiece)
		if err != nil || !ok {
			d.replyError(r, proto.CodeBadRequest, "daemon: expected a GetPiece")
			return
		}
		select {
		case slots <- struct{}{}:
			work <- uploadReq{*r, gp} // r is reused by Serve: the worker gets a copy
		default:
			d.miss(r, gp, proto.MissBusy)
		}
	})
}

// An uploadReq is a GetPiece waiting for an upload worker.
type uploadReq struct {
	r  msg.Request
	gp *proto.GetPiece
}

// upload answers one GetPiece: it waits for the upload rate limit, then
// replies with the Piece header and the verified piece, which goes into
// the requester's segment with one sendfile behind the header.
func (d *Daemon) upload(r *msg.Request, gp *proto.GetPiece) {
	if c := d.streamCache(gp.Task); c != nil {
		d.uploadFromWindow(r, gp, c)
		return
	}
	st, err := d.store.Acquire(gp.Task)
	if err != nil {
		d.miss(r, gp, proto.MissNotHeld)
		return
	}
	defer st.Release()
	sec, err := st.OpenPiece(gp.Index)
	if err != nil {
		reason := proto.MissNotHeld
		if errors.Is(err, piece.ErrClosed) {
			reason = proto.MissEvicted
		}
		d.miss(r, gp, reason)
		return
	}
	defer func() { _ = sec.Close() }() // read-only section
	access, segLen := r.Grant()
	if access&msg.Write == 0 || segLen < sec.Len() {
		d.replyError(r, proto.CodeBadRequest, "daemon: GetPiece needs a writable segment of the piece's length")
		return
	}
	if err := d.up.Wait(d.ctx, sec.Len()); err != nil {
		d.miss(r, gp, proto.MissBusy)
		return
	}
	d.stats.uploads.Add(1)
	defer d.stats.uploads.Add(-1)
	var seg msg.Segment
	if f, ok := sec.File().(*os.File); ok {
		seg = msg.FileRange{File: f, Offset: sec.Offset(), Length: sec.Len()}
	} else {
		b := make([]byte, sec.Len()) // a non-OS file system (tests): copy
		if _, err := sec.File().ReadAt(b, sec.Offset()); err != nil {
			d.miss(r, gp, proto.MissEvicted)
			return
		}
		seg = msg.Bytes(b)
	}
	d.replyPiece(r, gp, seg)
}

// replyPiece answers a GetPiece with the Piece header and the piece's
// bytes in one reply, written into the requester's segment: no
// acknowledgement of the data to wait for.
func (d *Daemon) replyPiece(r *msg.Request, gp *proto.GetPiece, seg msg.Segment) {
	n := seg.Len()
	if err := d.replyMsg(r, &proto.Piece{Task: gp.Task, Index: gp.Index, Length: uint32(n)}, seg); err != nil {
		d.log.Debug("daemon: upload failed", "task", gp.Task.Short(), "piece", gp.Index, "err", err)
		d.miss(r, gp, proto.MissBusy) // if the requester still waits, it tries another parent
		return
	}
	d.stats.uploaded.Add(uint64(n))
	d.stats.served.Add(1)
}

// uploadFromWindow answers a GetPiece for a task this daemon streams: the
// piece's bytes from the stream window, pinned while they move (a slot
// reused meanwhile never changes them), or at once a Miss for a piece the
// window no longer (evicted) or not yet (not held) has, so the requester
// tries its next parent.
func (d *Daemon) uploadFromWindow(r *msg.Request, gp *proto.GetPiece, c *stream.Cache) {
	ref, err := c.Get(gp.Index)
	if err != nil {
		reason := proto.MissNotHeld
		if errors.Is(err, stream.ErrEvicted) {
			reason = proto.MissEvicted
		}
		d.miss(r, gp, reason)
		return
	}
	defer ref.Release()
	b := ref.Bytes()
	access, segLen := r.Grant()
	if access&msg.Write == 0 || segLen < int64(len(b)) {
		d.replyError(r, proto.CodeBadRequest, "daemon: GetPiece needs a writable segment of the piece's length")
		return
	}
	if err := d.up.Wait(d.ctx, int64(len(b))); err != nil {
		d.miss(r, gp, proto.MissBusy)
		return
	}
	d.stats.uploads.Add(1)
	defer d.stats.uploads.Add(-1)
	d.replyPiece(r, gp, msg.Bytes(b))
}

// miss answers a GetPiece with Miss.
func (d *Daemon) miss(r *msg.Request, gp *proto.GetPiece, reason proto.MissReason) {
	d.stats.miss.Add(1)
	_ = d.replyMsg(r, &proto.Miss{Task: gp.Task, Index: gp.Index, Reason: reason}, nil)
}

// replyError answers a request with a proto Error.
func (d *Daemon) replyError(r *msg.Request, code proto.ErrorCode, text string) {
	_ = d.replyMsg(r, &proto.Error{Code: code, Text: text}, nil)
}

// replyMsg encodes m and replies with it and, if seg is not nil, with
// seg's bytes for the requester's segment. A failed reply means the
// requester went away; it is not the server's problem.
func (d *Daemon) replyMsg(r *msg.Request, m proto.Message, seg msg.Segment) error {
	var buf [128]byte
	b, err := m.Append(buf[:0])
	switch {
	case err != nil:
		return err
	case seg != nil:
		return r.ReplyWithSegment(b, 0, seg)
	}
	return r.Reply(b)
}
