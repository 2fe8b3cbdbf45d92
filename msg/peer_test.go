// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/wire"
)

// A rawPeer speaks msg frames directly over a wire mux, to play a peer
// that breaks the rules.
type rawPeer struct {
	t    *testing.T
	mux  *wire.Mux
	sock *wire.Socket
}

func newRawPeer(t *testing.T, c net.Conn) *rawPeer {
	mux, err := wire.NewMux(wire.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mux.Close() })
	if err := mux.Attach(c); err != nil {
		t.Fatal(err)
	}
	return &rawPeer{t: t, mux: mux, sock: mux.NewSocket()}
}

// listenRaw listens on a loopback TCP port where a rawPeer will play the
// receiver, and returns the listener's msg address.
func listenRaw(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, "tcp://" + ln.Addr().String()
}

// acceptRaw accepts a node's connection on ln, reads its hello and returns
// a rawPeer on it, with the connection.
func acceptRaw(t *testing.T, ln net.Listener) (*rawPeer, net.Conn) {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readHello(c); err != nil {
		t.Fatal(err)
	}
	return newRawPeer(t, c), c
}

// sendAsync sends "x" from client to dest in a goroutine, granting rights
// to seg, and puts the Send's error on res.
func sendAsync(client *Node, dest string, seg []byte, rights Access, res chan<- error) {
	go func() {
		_, err := client.SendWithSegment(context.Background(), dest, []byte("x"), Bytes(seg), rights)
		res <- err
	}()
}

func (p *rawPeer) send(f frame) {
	p.t.Helper()
	b, err := f.Append(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRaw(b)
}

func (p *rawPeer) sendRaw(b []byte) {
	p.t.Helper()
	if err := p.sock.Send(context.Background(), b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) recv() frame {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.sock.Receive(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	b := bytes.Clone(m.Bytes())
	m.Release()
	f, _, err := parseFrame(b)
	if err != nil {
		p.t.Fatal(err)
	}
	return f
}

func (p *rawPeer) wantMoveDone(move uint64, want error) {
	p.t.Helper()
	f, ok := p.recv().(moveDoneFrame)
	if !ok || f.Move != move || !errors.Is(remoteErr(f.Status, f.Detail), want) {
		p.t.Fatalf("got %+v, want move-done %d with %v", f, move, want)
	}
}

// A receiver that ignores the grant: every move outside it is refused by
// the segment's owner, and nothing outside the grant is read or written.
func TestRemoteReceiverViolatesGrant(t *testing.T) {
	checkLeaks(t)
	ln, dest := listenRaw(t)
	client := newNode(t, Config{})
	seg := pattern(5, 100)
	orig := bytes.Clone(seg)
	res := make(chan error, 1)
	sendWith := func(rights Access) { sendAsync(client, dest, seg, rights, res) }
	sendWith(Read)
	p, _ := acceptRaw(t, ln)
	req, ok := p.recv().(requestFrame)
	if !ok || !req.HasSeg || req.Access != Read || req.SegLen != 100 || !bytes.Equal(req.Carry, seg) {
		t.Fatalf("request %+v", req)
	}
	p.send(moveFromFrame{Seq: req.Seq, Move: 1, Off: 90, N: 20})
	p.wantMoveDone(1, ErrOutOfRange)
	p.send(moveFromFrame{Seq: req.Seq, Move: 2, Off: 100, N: 1})
	p.wantMoveDone(2, ErrOutOfRange)
	p.send(moveToFrame{Seq: req.Seq, Move: 3, Total: 5, Data: []byte("EVIL!")})
	p.wantMoveDone(3, ErrAccess)
	p.send(moveFromFrame{Seq: req.Seq + 100, Move: 4, N: 1})
	p.wantMoveDone(4, ErrNotAwaitingReply)
	p.sendRaw([]byte{0, 0, 0, 0, 1, 200, 0, 0}) // unknown frame type: dropped
	p.send(moveFromFrame{Seq: req.Seq, Move: 5, Off: 10, N: 5})
	if d, ok := p.recv().(dataFrame); !ok || d.Move != 5 || d.Off != 10 || !bytes.Equal(d.Data, seg[10:15]) {
		t.Fatalf("valid move-from answered %+v", d)
	}
	p.send(replyFrame{Seq: req.Seq, Msg: []byte("r"), HasData: true, Data: []byte("EVIL")})
	if err := <-res; !errors.Is(err, ErrAccess) {
		t.Fatalf("reply writing into a read-only segment: %v", err)
	}

	sendWith(Write)
	req = p.recv().(requestFrame)
	if req.Carry != nil {
		t.Fatalf("write-only grant carried %q", req.Carry)
	}
	p.send(moveToFrame{Seq: req.Seq, Move: 6, Start: 90, Total: 20, Off: 90, Data: bytes.Repeat([]byte("E"), 20)})
	p.wantMoveDone(6, ErrOutOfRange)
	p.send(moveToFrame{Seq: req.Seq, Move: 7, Start: 0, Total: 10, Off: 50, Data: []byte("EVIL")})
	p.wantMoveDone(7, ErrOutOfRange)
	p.send(moveFromFrame{Seq: req.Seq, Move: 8, N: 1})
	p.wantMoveDone(8, ErrAccess)
	p.send(replyFrame{Seq: req.Seq, HasData: true, SegOff: 98, Data: []byte("EVIL")})
	if err := <-res; !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("reply writing past the segment: %v", err)
	}
	if !bytes.Equal(seg, orig) {
		t.Fatalf("segment changed outside the grant: %q", seg)
	}

	sendWith(Write)
	req = p.recv().(requestFrame)
	p.send(moveToFrame{Seq: req.Seq, Move: 9, Start: 0, Total: 2, Off: 0, Data: []byte("ok")})
	p.wantMoveDone(9, nil)
	p.send(replyFrame{Seq: req.Seq, HasData: true, SegOff: 98, Data: []byte("OK")})
	if err := <-res; err != nil || string(seg[:2]) != "ok" || string(seg[98:]) != "OK" {
		t.Fatalf("valid writes: %v %q", err, seg)
	}
	if st := client.Stats(); st.GrantViolations < 7 || st.BadFrames < 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A sender that breaks the rules: data outside the range asked for, a
// duplicate, a stale and a malformed request, an oversized message.
func TestRemoteSenderMisbehaves(t *testing.T) {
	checkLeaks(t)
	cfg := Config{MaxMessage: 1024}
	server := startService(t, "tcp://127.0.0.1:0", cfg, &service{dir: t.TempDir()})
	c, err := net.Dial("tcp", strings.TrimPrefix(server.Addr(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := helloFrame{Version: ProtocolVersion, Node: 77, Session: 5}.Append(nil)
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	p := newRawPeer(t, c)
	wantReply := func(seq uint64, want string) {
		t.Helper()
		f, ok := p.recv().(replyFrame)
		if !ok || f.Seq != seq || f.Status != statusOK || string(f.Msg) != want {
			t.Fatalf("got %+v, want reply %d %q", f, seq, want)
		}
	}

	// Data outside the move's range: the mover refuses it.
	p.send(requestFrame{Seq: 1, Ack: 1, Msg: moveFromMsg(0, 100, false), HasSeg: true, Access: Read, SegLen: 100})
	mf, ok := p.recv().(moveFromFrame)
	if !ok || mf.Seq != 1 || mf.Off != 0 || mf.N != 100 {
		t.Fatalf("move-from %+v", mf)
	}
	p.send(dataFrame{Move: mf.Move, Off: 50, Data: make([]byte, 100)})
	wantReply(1, errorPrefix+ErrProtocol.Error())

	// A duplicate is answered from the reply cache; the work ran once.
	work := requestFrame{Seq: 2, Ack: 1, Msg: []byte{opWork}}
	p.send(work)
	wantReply(2, "done")
	work.Retransmit = true
	p.send(work)
	wantReply(2, "done")
	p.send(requestFrame{Seq: 3, Ack: 3, Msg: []byte{opCount}})
	wantReply(3, string(binary.BigEndian.AppendUint64(nil, 1)))

	// Below the acknowledgement: stale, dropped silently.
	p.send(work)
	waitFor(t, "a stale request", func() bool { return server.Stats().Stale > 0 })

	// Malformed: dropped; the session goes on.
	bad, _ := requestFrame{Seq: 4, Ack: 3, Msg: []byte{opEcho}}.Append(nil)
	bad[7] |= 0x40
	p.sendRaw(bad)
	p.send(requestFrame{Seq: 5, Ack: 3, Msg: []byte{opEcho, 'k'}})
	wantReply(5, "k")

	// Longer than the receiver's MaxMessage: refused without running.
	p.send(requestFrame{Seq: 6, Ack: 3, Msg: append([]byte{opWork}, make([]byte, 2000)...)})
	if f, ok := p.recv().(replyFrame); !ok || f.Seq != 6 || !errors.Is(remoteErr(f.Status, f.Msg), ErrMessageTooLarge) {
		t.Fatalf("oversized request answered %+v", f)
	}
	p.send(requestFrame{Seq: 7, Ack: 3, Msg: []byte{opCount}})
	wantReply(7, string(binary.BigEndian.AppendUint64(nil, 1)))
	if st := server.Stats(); st.BadFrames < 1 || st.Duplicates < 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A move whose frames are lost (here: ignored by the owner) stalls and is
// started again as a new move; the late frames of the old move are
// dropped. After MaxRetransmits stalls the move fails with ErrUnreachable.
func TestMoveRetry(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", fastCfg, &service{dir: t.TempDir()})
	p, _ := dialRaw(t, server, 9)
	seg := pattern(4, 1000)

	p.send(requestFrame{Seq: 1, Ack: 1, Msg: moveFromMsg(0, 1000, false), HasSeg: true, Access: Read, SegLen: 1000})
	first := p.recv().(moveFromFrame) // lost
	second, ok := p.recv().(moveFromFrame)
	if !ok || second.Move == first.Move || second.Off != 0 || second.N != 1000 {
		t.Fatalf("retried move-from %+v after %+v", second, first)
	}
	p.send(dataFrame{Move: first.Move, Data: seg}) // late: dropped
	p.send(dataFrame{Move: second.Move, Data: seg})
	sum := sha256.Sum256(seg)
	if f, ok := p.recv().(replyFrame); !ok || !bytes.Equal(f.Msg, sum[:]) {
		t.Fatalf("reply %+v", f)
	}

	p.send(requestFrame{Seq: 2, Ack: 2, Msg: moveToMsg(0, 10, 1, false), HasSeg: true, Access: Write, SegLen: 10})
	first2 := p.recv().(moveToFrame) // never acknowledged
	second2, ok := p.recv().(moveToFrame)
	if !ok || second2.Move == first2.Move || !bytes.Equal(second2.Data, pattern(1, 10)) {
		t.Fatalf("retried move-to %+v", second2)
	}
	p.send(moveDoneFrame{Move: second2.Move})
	if f, ok := p.recv().(replyFrame); !ok || string(f.Msg) != "ok" {
		t.Fatalf("reply %+v", f)
	}

	// Never answered: the move gives up.
	p.send(requestFrame{Seq: 3, Ack: 3, Msg: moveFromMsg(0, 10, false), HasSeg: true, Access: Read, SegLen: 10})
	for range fastCfg.MaxRetransmits + 1 {
		if _, ok := p.recv().(moveFromFrame); !ok {
			t.Fatal("want a move-from")
		}
	}
	if f, ok := p.recv().(replyFrame); !ok || !strings.HasPrefix(string(f.Msg), errorPrefix) {
		t.Fatalf("reply %+v", f)
	}
	if st := server.Stats(); st.MoveRetries != 2+uint64(fastCfg.MaxRetransmits) {
		t.Fatalf("stats %+v", st)
	}
}

// A stable carry (memory segment) stands for the segment's first bytes:
// MoveFrom takes them from the carry and asks only for the rest; without
// the flag (a file segment) it asks for everything.
func TestMoveFromTakesStableCarry(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir()})
	p, _ := dialRaw(t, server, 11)
	seg := pattern(6, 300)
	seq := uint64(0)
	for _, stable := range []bool{true, false} {
		for _, tc := range []struct{ off, n, wantOff, wantN int64 }{
			{50, 200, 100, 150},  // part carried
			{150, 100, 150, 100}, // nothing carried
		} {
			seq++
			p.send(requestFrame{Seq: seq, Ack: seq, Msg: moveFromMsg(tc.off, tc.n, false), HasSeg: true, Access: Read, SegLen: 300, Carry: seg[:100], Stable: stable})
			mf, ok := p.recv().(moveFromFrame)
			wantOff, wantN := tc.wantOff, tc.wantN
			if !stable {
				wantOff, wantN = tc.off, tc.n
			}
			if !ok || mf.Seq != seq || mf.Off != wantOff || mf.N != wantN {
				t.Fatalf("stable %v: move-from %+v, want [%d, +%d)", stable, mf, wantOff, wantN)
			}
			p.send(dataFrame{Move: mf.Move, Off: mf.Off, Data: seg[mf.Off : mf.Off+mf.N]})
			sum := sha256.Sum256(seg[tc.off : tc.off+tc.n])
			if f, ok := p.recv().(replyFrame); !ok || f.Seq != seq || !bytes.Equal(f.Msg, sum[:]) {
				t.Fatalf("stable %v: reply %+v", stable, f)
			}
		}
	}
	// Entirely carried: no move-from at all.
	p.send(requestFrame{Seq: seq + 1, Ack: seq + 1, Msg: moveFromMsg(10, 50, false), HasSeg: true, Access: Read, SegLen: 300, Carry: seg[:100], Stable: true})
	sum := sha256.Sum256(seg[10:60])
	if f, ok := p.recv().(replyFrame); !ok || f.Seq != seq+1 || !bytes.Equal(f.Msg, sum[:]) {
		t.Fatalf("carried move: reply %+v", f)
	}
}
