// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Streamed carries: a memory segment granted with Read travels with its
// request up to MaxStableCarry bytes, and MoveFrom reads it straight from
// the connection. The counters tell which way the bytes came:
// CarriedTaken counts those read from a streamed carry.

// wantCarried checks that want bytes were taken from streamed carries
// between the snapshots before and after, unless a carry expired
// meanwhile: a loaded machine may delay a handler past the hold, and the
// bytes then come with a move-from (correct, but not what is counted).
func wantCarried(t *testing.T, what string, before, after Stats, want int64) {
	t.Helper()
	d := after.CarriedTaken - before.CarriedTaken
	if d == uint64(want) {
		return
	}
	if after.CarriesExpired > before.CarriesExpired {
		t.Logf("%s: %d bytes from the stream, want %d; a carry expired (a slow machine)", what, d, want)
		return
	}
	t.Errorf("%s: %d bytes taken from the streamed carry, want %d", what, d, want)
}

// carryServer starts the test service on network (in this process) and
// returns its node.
func carryServer(t *testing.T, network string, cfg Config, s *service) *Node {
	t.Helper()
	addr := "tcp://127.0.0.1:0"
	if network == "unix" {
		addr = "unix://" + filepath.Join(t.TempDir(), "svc.sock")
	}
	if s.dir == "" {
		s.dir = t.TempDir()
	}
	return startService(t, addr, cfg, s)
}

func TestStreamedCarry(t *testing.T) {
	const mib = 1 << 20
	data := pattern(3, 3*mib+5)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			checkLeaks(t)
			server := carryServer(t, network, Config{}, &service{plain: true})
			client := newNode(t, Config{})
			for _, tc := range []struct {
				name          string
				seg, off, n   int64
				step          int64 // 0: one MoveFrom
				toFile        bool
				wantFromCarry int64
			}{
				{name: "whole", seg: mib, n: mib, wantFromCarry: mib},
				{name: "whole-file", seg: mib, n: mib, toFile: true, wantFromCarry: mib},
				{name: "steps", seg: mib, n: mib, step: 100 << 10, wantFromCarry: mib},
				{name: "steps-file", seg: mib, n: mib, step: 100 << 10, toFile: true, wantFromCarry: mib},
				{name: "prefix", seg: mib, n: 5000, wantFromCarry: 5000},
				// Past the stream's next byte: the bytes before it are
				// skipped.
				{name: "middle", seg: mib, off: 4096, n: 8192, wantFromCarry: 8192},
				// Longer than MaxStableCarry: the carry, then a move.
				{name: "beyond", seg: 3*mib + 5, n: 3*mib + 5, wantFromCarry: mib},
				{name: "beyond-file", seg: 3*mib + 5, n: 3 * mib, toFile: true, wantFromCarry: mib},
				{name: "beyond-middle", seg: 3*mib + 5, off: 7, n: 3*mib - 2, wantFromCarry: mib - 7},
				// Past the streamed carry: skipped, and a move.
				{name: "after", seg: 3*mib + 5, off: 2 * mib, n: 1000},
				// Carried, but short enough to be buffered.
				{name: "buffered", seg: 100 << 10, n: 100 << 10},
			} {
				before := server.Stats()
				m := moveFromMsg(tc.off, tc.n, tc.toFile)
				if tc.step > 0 {
					m = moveStepsMsg(tc.off, tc.n, tc.step, tc.toFile)
				}
				got, err := client.SendWithSegment(context.Background(), server.Addr(), m, Bytes(data[:tc.seg]), Read)
				want := sha256.Sum256(data[tc.off : tc.off+tc.n])
				if err != nil || !bytes.Equal(got, want[:]) {
					t.Fatalf("%s: %q %v", tc.name, got, err)
				}
				after := server.Stats()
				if d := after.MovedFrom - before.MovedFrom; d != uint64(tc.n) {
					t.Errorf("%s: MovedFrom grew by %d, want %d", tc.name, d, tc.n)
				}
				wantCarried(t, tc.name, before, after, tc.wantFromCarry)
			}
			if st := server.Stats(); st.BadFrames != 0 {
				t.Errorf("server stats %+v", st)
			}
		})
	}
}

// With ReceiveWithSegment the carry's first bytes are delivered with the
// message and kept; MoveFrom takes them from there and the rest from the
// stream.
func TestStreamedCarryWithSegment(t *testing.T) {
	checkLeaks(t)
	server := carryServer(t, "tcp", Config{}, &service{})
	client := newNode(t, Config{})
	data := pattern(5, 1<<20)
	got, err := client.SendWithSegment(context.Background(), server.Addr(), []byte{opCarry}, Bytes(data), Read)
	if err != nil || !bytes.Equal(got, data[:64<<10]) {
		t.Fatalf("carry: %d bytes, %v", len(got), err)
	}
	for _, r := range [][2]int64{{0, 1 << 20}, {100, 200 << 10}, {64 << 10, 1000}} {
		before := server.Stats()
		got, err = client.SendWithSegment(context.Background(), server.Addr(), moveFromMsg(r[0], r[1], false), Bytes(data), Read)
		want := sha256.Sum256(data[r[0] : r[0]+r[1]])
		if err != nil || !bytes.Equal(got, want[:]) {
			t.Fatalf("move from [%d, +%d): %q %v", r[0], r[1], got, err)
		}
		wantCarried(t, fmt.Sprintf("[%d, +%d)", r[0], r[1]), before, server.Stats(), r[0]+r[1]-64<<10)
	}
}

// A streamed carry holds its connection only briefly: a handler that is
// late (or never moves) costs a move-from, never a stall, and the
// session's later requests go on.
func TestStreamedCarryHeld(t *testing.T) {
	checkLeaks(t)
	s := &service{plain: true}
	server := carryServer(t, "tcp", Config{}, s)
	client := newNode(t, Config{})
	data := pattern(9, 1<<20)
	s.beforeMove = func() { time.Sleep(20 * maxPushHold) }
	got, err := client.SendWithSegment(context.Background(), server.Addr(), moveFromMsg(0, 1<<20, false), Bytes(data), Read)
	want := sha256.Sum256(data)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Fatalf("late move: %q %v", got, err)
	}
	if st := server.Stats(); st.CarriesExpired != 1 || st.CarriedTaken != 0 || st.MovedFrom != 1<<20 {
		t.Fatalf("late move: stats %+v", st)
	}
	s.beforeMove = nil
	// Answered without a move: the carry is skipped with the reply.
	for range 3 {
		got, err = client.SendWithSegment(context.Background(), server.Addr(), []byte{opGrant}, Bytes(data), Read)
		if err != nil || len(got) != 9 {
			t.Fatalf("grant: %q %v", got, err)
		}
		if got := send(t, client, server.Addr(), []byte{opEcho, 'o', 'k'}); string(got) != "ok" {
			t.Fatalf("echo after a skipped carry: %q", got)
		}
	}
	if st := server.Stats(); st.CarriesExpired == 0 || st.BadFrames != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A Send that waits longer than RetransmitInterval retransmits its request
// with a short carry; the request runs once and its move completes.
func TestStreamedCarryRetransmitted(t *testing.T) {
	checkLeaks(t)
	cfg := Config{RetransmitInterval: 40 * time.Millisecond}
	s := &service{plain: true}
	server := carryServer(t, "tcp", cfg, s)
	client := newNode(t, cfg)
	data := pattern(1, 2<<20)
	s.beforeMove = func() { time.Sleep(150 * time.Millisecond) }
	got, err := client.SendWithSegment(context.Background(), server.Addr(), moveFromMsg(0, 2<<20, false), Bytes(data), Read)
	want := sha256.Sum256(data)
	if err != nil || !bytes.Equal(got, want[:]) {
		t.Fatalf("move: %q %v", got, err)
	}
	if st := client.Stats(); st.Retransmits == 0 {
		t.Fatalf("client stats %+v: no retransmission", st)
	}
	if st := server.Stats(); st.Duplicates == 0 || st.MovedFrom != 2<<20 || st.BadFrames != 0 {
		t.Fatalf("server stats %+v", st)
	}
}

// Streamed requests that break the rules are refused; the session goes on.
func TestStreamedRequestRefused(t *testing.T) {
	checkLeaks(t)
	server := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir(), plain: true})
	p, _ := dialRaw(t, server, 21)
	big := pattern(2, 300<<10) // longer than a request can be buffered
	wantReply := func(seq uint64, status uint8) replyFrame {
		t.Helper()
		f, ok := p.recv().(replyFrame)
		if !ok || f.Seq != seq || f.Status != status {
			t.Fatalf("got %+v, want reply %d with status %d", f, seq, status)
		}
		return f
	}
	// Not stable: a long carry of a file may not be streamed.
	p.send(requestFrame{Seq: 1, Ack: 1, Msg: moveFromMsg(0, 10, false), HasSeg: true, Access: Read, SegLen: int64(len(big)), Carry: big})
	wantReply(1, statusTooLarge)
	// Stable, but the message is longer than MaxMessage.
	p.send(requestFrame{Seq: 2, Ack: 2, Msg: make([]byte, 70<<10), HasSeg: true, Access: Read, SegLen: int64(len(big)), Carry: big, Stable: true})
	wantReply(2, statusTooLarge)
	// A carry longer than the grant is malformed: dropped, and counted.
	bad, err := requestFrame{Seq: 3, Ack: 3, Msg: moveFromMsg(0, 10, false), HasSeg: true, Access: Read, SegLen: int64(len(big)), Carry: big, Stable: true}.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint64(bad[requestFixedLen+1:], uint64(len(big)-1)) // segLen one byte short of the carry
	p.sendRaw(bad)
	waitFor(t, "bad frame counted", func() bool { return server.Stats().BadFrames == 1 })
	// A good one: the whole range is carried, so the reply comes with no
	// move-from before it.
	p.send(requestFrame{Seq: 3, Ack: 3, Msg: moveFromMsg(1000, 200<<10, false), HasSeg: true, Access: Read, SegLen: int64(len(big)), Carry: big, Stable: true})
	f := wantReply(3, statusOK)
	if sum := sha256.Sum256(big[1000 : 1000+200<<10]); !bytes.Equal(f.Msg, sum[:]) {
		t.Fatalf("reply %q", f.Msg)
	}
	st := server.Stats()
	wantCarried(t, "good", Stats{}, st, 200<<10)
	if st.BadFrames != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The grant is enforced on a streamed carry as on any other.
	p.send(requestFrame{Seq: 4, Ack: 4, Msg: moveFromMsg(int64(len(big))-10, 11, false), HasSeg: true, Access: Read, SegLen: int64(len(big)), Carry: big, Stable: true})
	if f := wantReply(4, statusOK); string(f.Msg) != errorPrefix+ErrOutOfRange.Error() {
		t.Fatalf("move beyond the grant: %q", f.Msg)
	}
}

// A carry held while the hold timer armed by an earlier carry is still
// pending (the timer is not reset for every carry) expires at its own
// deadline all the same.
func TestStreamedCarryHeldAfterQuickOne(t *testing.T) {
	checkLeaks(t)
	s := &service{plain: true}
	server := carryServer(t, "tcp", Config{}, s)
	client := newNode(t, Config{})
	data := pattern(4, 1<<20)
	want := sha256.Sum256(data)
	var late atomic.Bool // set by the test, read by the handler: no race
	s.beforeMove = func() {
		if late.Load() {
			time.Sleep(20 * maxPushHold)
		}
	}
	for i := range 3 {
		late.Store(false)
		got, err := client.SendWithSegment(context.Background(), server.Addr(), moveFromMsg(0, 1<<20, false), Bytes(data), Read)
		if err != nil || !bytes.Equal(got, want[:]) {
			t.Fatalf("quick move %d: %q %v", i, got, err)
		}
		before := server.Stats()
		late.Store(true)
		got, err = client.SendWithSegment(context.Background(), server.Addr(), moveFromMsg(0, 1<<20, false), Bytes(data), Read)
		if err != nil || !bytes.Equal(got, want[:]) {
			t.Fatalf("late move %d: %q %v", i, got, err)
		}
		after := server.Stats()
		if d := after.CarriesExpired - before.CarriesExpired; d != 1 {
			t.Fatalf("late move %d: %d carries expired, want 1 (stats %+v)", i, d, after)
		}
		if d := after.CarriedTaken - before.CarriedTaken; d != 0 {
			t.Fatalf("late move %d: %d bytes taken from an expired carry", i, d)
		}
	}
}
