// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/msg/msgtest"
)

// Long replies: ReplyWithSegment with more than MaxCarry bytes sends them
// in the reply frame from where they lie (sendfile for a file range), and
// the Send reads them from its connection straight into its segment. The
// counter ReplyDataTaken tells that they came that way.

func TestReplyWithLongSegment(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		const off = 7
		var want uint64 // bytes that must come in long reply frames
		before := client.Stats()
		for _, n := range []int64{64<<10 + 1, 200 << 10, 1<<20 + 3, MaxFrameData + 5} {
			for _, fromFile := range []bool{false, true} {
				for _, toFile := range []bool{false, true} {
					size := int(n) + off + 2
					var seg Segment
					read := func() []byte { return []byte(seg.(Bytes)) }
					if toFile {
						f := tempFile(t, make([]byte, size+3))
						seg = FileRange{File: f, Offset: 3, Length: int64(size)}
						read = func() []byte {
							b := make([]byte, size)
							_, _ = f.ReadAt(b, 3)
							return b
						}
					} else {
						seg = Bytes(make([]byte, size))
					}
					seed := byte(n) + boolByte(fromFile) + 2*boolByte(toFile)
					got, err := client.SendWithSegment(context.Background(), dest, replyLongMsg(off, n, seed, fromFile), seg, Write)
					if err != nil || string(got) != "ok" {
						t.Fatalf("long reply of %d bytes fromFile=%v toFile=%v: %q %v", n, fromFile, toFile, got, err)
					}
					b := read()
					if !bytes.Equal(b[off:off+n], pattern(seed, int(n))) || !bytes.Equal(b[:off], make([]byte, off)) || !bytes.Equal(b[off+n:], []byte{0, 0}) {
						t.Fatalf("long reply of %d bytes fromFile=%v toFile=%v: segment content wrong", n, fromFile, toFile)
					}
					// Beyond one frame the first bytes are moved first;
					// a frame under the stream threshold is buffered.
					if k := min(n, MaxFrameData); k+replyDataFixedLen+2 >= int64(Config{}.withDefaults().streamThreshold()) {
						want += uint64(k)
					}
				}
			}
		}
		if strings.HasPrefix(dest, "inproc://") {
			return // copied between the segments
		}
		if got := client.Stats().ReplyDataTaken - before.ReplyDataTaken; got != want {
			t.Fatalf("%d bytes read from long replies, want %d", got, want)
		}
	})
}

// A long reply outside the grant is refused by the replier before it
// sends anything.
func TestLongReplyGrant(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		seg := pattern(3, 200<<10)
		orig := bytes.Clone(seg)
		for _, c := range []struct {
			off, n int64
			rights Access
			want   error
		}{
			{100 << 10, 100<<10 + 1, Write, ErrOutOfRange},
			{0, 100 << 10, Read, ErrAccess},
			{-1, 100 << 10, Write, ErrOutOfRange},
		} {
			got, err := client.SendWithSegment(context.Background(), dest, replyLongMsg(c.off, c.n, 1, true), Bytes(seg), c.rights)
			if err != nil {
				t.Fatal(err)
			}
			wantErrReply(t, got, c.want)
			if !bytes.Equal(seg, orig) {
				t.Fatal("segment changed by a refused reply")
			}
		}
	})
}

// A receiver that sends long replies that break the rules: the Send fails
// with a clear error, nothing is written outside the grant, and the
// session goes on.
func TestRemoteLongReplyMisbehaves(t *testing.T) {
	checkLeaks(t)
	ln, dest := listenRaw(t)
	client := newNode(t, Config{})
	const size = 300 << 10
	seg := make([]byte, size)
	res := make(chan error, 1)
	sendWith := func(rights Access) { sendAsync(client, dest, seg, rights, res) }
	sendWith(Write)
	p, _ := acceptRaw(t, ln)
	long := bytes.Repeat([]byte("E"), 200<<10) // beyond the client's stream threshold
	for _, tc := range []struct {
		name   string
		rights Access
		frame  func(seq uint64) []byte
		want   error
	}{
		{"past the segment", Write, func(seq uint64) []byte {
			return encode(t, replyFrame{Seq: seq, Msg: []byte("r"), HasData: true, SegOff: 200 << 10, Data: long})
		}, ErrOutOfRange},
		{"into a read-only grant", Read, func(seq uint64) []byte {
			return encode(t, replyFrame{Seq: seq, HasData: true, Data: long})
		}, ErrAccess},
		{"a message too long", Write, func(seq uint64) []byte {
			return encode(t, replyFrame{Seq: seq, Msg: long})
		}, ErrMessageTooLarge},
		{"a message longer than its frame", Write, func(seq uint64) []byte {
			b := encode(t, replyFrame{Seq: seq, HasData: true, Data: long})
			binary.BigEndian.PutUint32(b[17:], uint32(len(long)+1))
			return b
		}, ErrMalformed},
	} {
		if tc.name != "past the segment" {
			sendWith(tc.rights)
		}
		req, ok := p.recv().(requestFrame)
		if !ok || req.Access != tc.rights {
			t.Fatalf("%s: request %+v", tc.name, req)
		}
		p.sendRaw(tc.frame(req.Seq))
		select {
		case err := <-res:
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the Send still waits", tc.name)
		}
		if !bytes.Equal(seg, make([]byte, size)) {
			t.Fatalf("%s: segment written", tc.name)
		}
	}
	// The session still works: a valid long reply lands where it says.
	sendWith(Write)
	req := p.recv().(requestFrame)
	p.send(replyFrame{Seq: req.Seq, Msg: []byte("ok"), HasData: true, SegOff: 100, Data: long})
	if err := <-res; err != nil || !bytes.Equal(seg[100:100+len(long)], long) || seg[99] != 0 || seg[100+len(long)] != 0 {
		t.Fatalf("valid long reply: %v", err)
	}
	if st := client.Stats(); st.GrantViolations < 2 || st.BadFrames < 1 || st.ReplyDataTaken != uint64(len(long)) {
		t.Fatalf("stats %+v", st)
	}
}

// A sender of protocol version 3 cannot read a reply longer than it
// buffers: it gets the data with move-to frames first, then a reply
// without data. A version 4 sender gets one reply frame with the data.
func TestLongReplyToOldSender(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir()})
	const n = 200 << 10
	for _, version := range []uint8{3, ProtocolVersion} {
		c, err := net.Dial("tcp", strings.TrimPrefix(server.Addr(), "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		session := uint64(100 + version)
		hello, _ := helloFrame{Version: version, Node: NodeID(session), Session: session}.Append(nil)
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		p := newRawPeer(t, c)
		p.send(requestFrame{Seq: 1, Ack: 1, Msg: replyLongMsg(0, n, 9, true), HasSeg: true, Access: Write, SegLen: n})
		got := make([]byte, n)
		if version < 4 {
			for k := 0; k < n; {
				f, ok := p.recv().(moveToFrame)
				if !ok || f.Seq != 1 || f.Start != 0 || f.Total != n {
					t.Fatalf("version %d: got %+v, want a move-to", version, f)
				}
				k += copy(got[f.Off:], f.Data)
				if k == n {
					p.send(moveDoneFrame{Move: f.Move})
				}
			}
		}
		r, ok := p.recv().(replyFrame)
		if !ok || r.Seq != 1 || r.Status != statusOK || string(r.Msg) != "ok" {
			t.Fatalf("version %d: reply %+v", version, r)
		}
		if version < 4 && len(r.Data) != 0 {
			t.Fatalf("version %d: %d bytes in the reply", version, len(r.Data))
		}
		copy(got[r.SegOff:], r.Data)
		if !bytes.Equal(got, pattern(9, n)) {
			t.Fatalf("version %d: data wrong", version)
		}
		_ = c.Close()
	}
}

// At most once with a long reply: the connection is cut after the work and
// before the reply, which the receiver cannot send and does not keep; the
// retransmission gets ErrReplyLost and the request does not run again.
func TestAtMostOnceLongReply(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			rig := newCutRig(t, network)
			server, client := rig.server, rig.client
			const n = 1 << 20
			seg := make([]byte, n)
			res := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err := client.SendWithSegment(ctx, server.Addr(), replyLongMsg(0, n, 4, true), Bytes(seg), Write)
				res <- err
			}()
			rig.cutAfterWork(t)
			close(rig.proceed)
			<-rig.replied // the reply went nowhere
			rig.cut.Release()
			if err := <-res; !errors.Is(err, ErrReplyLost) {
				t.Fatalf("send across the cut: %v, want ErrReplyLost", err)
			}
			count := send(t, client, server.Addr(), []byte{opCount})
			if c := binary.BigEndian.Uint64(count); c != 1 {
				t.Fatalf("the request ran %d times", c)
			}
			if ss := server.Stats(); ss.Duplicates == 0 || ss.Undelivered == 0 || ss.RepliedData != 0 {
				t.Fatalf("server stats %+v", ss)
			}
		})
	}
}

// A session busy with a long reply is not taken for dead: another Send's
// retransmissions go unanswered while the reply's bytes trickle in for
// many retransmit intervals, and the connection is kept (one dial), so
// neither the long reply nor the other Send fails.
func TestBusySessionKept(t *testing.T) {
	checkLeaks(t)
	ln, dest := listenRaw(t)
	var cut msgtest.Cutter
	cfg := fastCfg
	cfg.Dial = cut.Dial
	client := newNode(t, cfg)
	seg := make([]byte, 200<<10)
	errs := make(chan error, 2)
	go func() {
		_, err := client.SendWithSegment(context.Background(), dest, []byte("a"), Bytes(seg), Write)
		errs <- err
	}()
	p, c := acceptRaw(t, ln)
	a, ok := p.recv().(requestFrame)
	if !ok || string(a.Msg) != "a" {
		t.Fatalf("first request %+v", a)
	}
	go func() {
		_, err := client.Send(context.Background(), dest, []byte("b"))
		errs <- err
	}()
	b, ok := p.recv().(requestFrame)
	if !ok || string(b.Msg) != "b" {
		t.Fatalf("second request %+v", b)
	}
	// A's reply, 200 KiB, written straight to the connection over about
	// ten retransmit intervals; B's retransmissions are left unanswered.
	data := pattern(6, len(seg))
	reply := encode(t, replyFrame{Seq: a.Seq, Msg: []byte("ok"), HasData: true, Data: data})
	const chunks = 50
	step := len(reply)/chunks + 1
	for o := 0; o < len(reply); o += step {
		if _, err := c.Write(reply[o:min(o+step, len(reply))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(fastCfg.RetransmitInterval / 5)
	}
	if err := <-errs; err != nil || !bytes.Equal(seg, data) {
		t.Fatalf("long reply over a busy session: %v", err)
	}
	p.send(replyFrame{Seq: b.Seq, Msg: []byte("ok")})
	if err := <-errs; err != nil {
		t.Fatalf("send waiting behind the long reply: %v", err)
	}
	if d := cut.Dials(); d != 1 {
		t.Fatalf("%d dials: the busy connection was replaced", d)
	}
	if st := client.Stats(); st.Retransmits == 0 {
		t.Fatalf("no retransmission while the session was busy: %+v", st)
	}
}
