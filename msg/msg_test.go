// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// V1: Send/Receive/Reply round trips, in order and concurrently.
func TestSendReceiveReply(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		for _, size := range []int{0, 1, 32, 4096, 64<<10 - 1} {
			m := append([]byte{opEcho}, pattern(byte(size), size)...)
			if got := send(t, client, dest, m); !bytes.Equal(got, m[1:]) {
				t.Fatalf("echo of %d bytes: got %d bytes", size, len(got))
			}
		}
		// The reply is appended to dst, reusing it (the V convention of
		// the reply overwriting the message).
		dst := make([]byte, 0, 64)
		got, err := client.AppendSend(context.Background(), dst, dest, []byte{opEcho, 'h', 'i'}, nil, 0)
		if err != nil || string(got) != "hi" || &got[0] != &dst[:1][0] {
			t.Fatalf("AppendSend: %q %v (reused buffer: %v)", got, err, err == nil && &got[0] == &dst[:1][0])
		}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 20 {
					m := []byte{opEcho, byte(i), byte(j)}
					if got, err := client.Send(context.Background(), dest, m); err != nil || !bytes.Equal(got, m[1:]) {
						t.Errorf("concurrent echo %d/%d: %q %v", i, j, got, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if _, err := client.Send(context.Background(), dest, make([]byte, 64<<10+1)); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("oversized message: %v", err)
		}
	})
}

// The context bounds a Send whose request is never answered.
func TestSendDeadline(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := client.Send(ctx, dest, []byte{opNoReply}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("unanswered send: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("unanswered send took %v", d)
		}
		// The node still works afterwards.
		if got := send(t, client, dest, []byte{opEcho, 'x'}); string(got) != "x" {
			t.Fatalf("echo after deadline: %q", got)
		}
	})
}

// V3: ReceiveWithSegment gets the first bytes of a readable segment with
// the message (up to MaxCarry remotely, up to its buffer locally).
func TestReceiveWithSegment(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		seg := pattern(7, 100<<10)
		got, err := client.SendWithSegment(context.Background(), dest, []byte{opCarry}, Bytes(seg), Read)
		if err != nil || !bytes.Equal(got, seg[:64<<10]) {
			t.Fatalf("carry of a 100 KiB segment: %d bytes, %v", len(got), err)
		}
		small := []byte("tiny segment")
		if got, _ := client.SendWithSegment(context.Background(), dest, []byte{opCarry}, Bytes(small), Read|Write); !bytes.Equal(got, small) {
			t.Fatalf("carry of a small segment: %q", got)
		}
		if got, _ := client.SendWithSegment(context.Background(), dest, []byte{opCarry}, Bytes(small), Write); len(got) != 0 {
			t.Fatalf("write-only segment carried %q", got)
		}
		f := tempFile(t, seg)
		if got, _ := client.SendWithSegment(context.Background(), dest, []byte{opCarry}, FileRange{File: f, Offset: 10, Length: 20}, Read); !bytes.Equal(got, seg[10:30]) {
			t.Fatalf("carry of a file segment: %q", got)
		}
		got, _ = client.SendWithSegment(context.Background(), dest, []byte{opGrant}, Bytes(small), Read|Write)
		if len(got) != 9 || Access(got[0]) != Read|Write || binary.BigEndian.Uint64(got[1:]) != uint64(len(small)) {
			t.Fatalf("grant seen by the receiver: %x", got)
		}
	})
}

// MoveFrom and MoveTo between memory and files on both sides, including
// moves longer than a chunk.
func TestMoves(t *testing.T) {
	transports(t, Config{MaxChunk: 256 << 10}, func(t *testing.T, client *Node, dest string) {
		data := pattern(1, 1<<20+3) // > MaxChunk: several frames
		f := tempFile(t, append(make([]byte, 11), data...))
		segs := map[string]Segment{
			"bytes": Bytes(data),
			"file":  FileRange{File: f, Offset: 11, Length: int64(len(data))},
		}
		for name, seg := range segs {
			for _, toFile := range []bool{false, true} {
				for _, r := range [][2]int64{{0, 1}, {3, 300 << 10}, {0, int64(len(data))}, {int64(len(data)) - 5, 5}} {
					got, err := client.SendWithSegment(context.Background(), dest, moveFromMsg(r[0], r[1], toFile), seg, Read)
					want := sha256.Sum256(data[r[0] : r[0]+r[1]])
					if err != nil || !bytes.Equal(got, want[:]) {
						t.Fatalf("move from %s [%d,+%d) toFile=%v: %q %v", name, r[0], r[1], toFile, got, err)
					}
				}
			}
		}
		for name, mk := range map[string]func(n int) (Segment, func() []byte){
			"bytes": func(n int) (Segment, func() []byte) {
				b := make([]byte, n)
				return Bytes(b), func() []byte { return b }
			},
			"file": func(n int) (Segment, func() []byte) {
				f := tempFile(t, make([]byte, n+4))
				return FileRange{File: f, Offset: 4, Length: int64(n)}, func() []byte {
					b := make([]byte, n)
					_, _ = f.ReadAt(b, 4)
					return b
				}
			},
		} {
			for _, fromFile := range []bool{false, true} {
				const size = 1<<20 + 1
				seg, read := mk(size)
				got, err := client.SendWithSegment(context.Background(), dest, moveToMsg(1, size-1, 9, fromFile), seg, Write)
				if err != nil || string(got) != "ok" {
					t.Fatalf("move to %s fromFile=%v: %q %v", name, fromFile, got, err)
				}
				if b := read(); b[0] != 0 || !bytes.Equal(b[1:], pattern(9, size-1)) {
					t.Fatalf("move to %s fromFile=%v: segment content wrong", name, fromFile)
				}
			}
			// V4: ReplyWithSegment writes into the segment with the reply.
			seg, read := mk(100)
			got, err := client.SendWithSegment(context.Background(), dest, replySegMsg(40, []byte("page")), seg, Write)
			if err != nil || string(got) != "ok" || string(read()[40:44]) != "page" {
				t.Fatalf("reply with segment into %s: %q %v", name, got, err)
			}
		}
	})
}

// V2, V4: every move outside the grant fails and moves nothing.
func TestGrantEnforced(t *testing.T) {
	transports(t, Config{}, func(t *testing.T, client *Node, dest string) {
		seg := pattern(3, 1000)
		orig := bytes.Clone(seg)
		try := func(m []byte, rights Access, want error) {
			t.Helper()
			got, err := client.SendWithSegment(context.Background(), dest, m, Bytes(seg), rights)
			if err != nil {
				t.Fatal(err)
			}
			wantErrReply(t, got, want)
			if !bytes.Equal(seg, orig) {
				t.Fatal("segment changed by a refused move")
			}
		}
		try(moveFromMsg(0, 10, false), Write, ErrAccess)
		try(moveFromMsg(995, 10, false), Read, ErrOutOfRange)
		try(moveFromMsg(1<<62, 10, false), Read|Write, ErrOutOfRange)
		try(moveToMsg(0, 10, 1, false), Read, ErrAccess)
		try(moveToMsg(999, 2, 1, false), Write, ErrOutOfRange)
		try(moveToMsg(-1, 2, 1, false), Write, ErrOutOfRange)
		try(replySegMsg(998, []byte("abc")), Write, ErrOutOfRange)
		try(replySegMsg(0, []byte("abc")), Read, ErrAccess)
		// No segment at all.
		got := send(t, client, dest, moveFromMsg(0, 1, false))
		wantErrReply(t, got, ErrAccess)
		// A file segment longer than its file is refused before sending.
		f := tempFile(t, make([]byte, 10))
		if _, err := client.SendWithSegment(context.Background(), dest, []byte{opEcho}, FileRange{File: f, Offset: 5, Length: 6}, Read); !errors.Is(err, ErrSegmentBeyondFile) {
			t.Fatalf("segment beyond its file: %v", err)
		}
		if _, err := client.SendWithSegment(context.Background(), dest, []byte{opEcho}, nil, Read); !errors.Is(err, ErrAccess) {
			t.Fatalf("grant without a segment: %v", err)
		}
	})
}

// V2, V5: moves and replies after the Send ended (replied or cancelled)
// fail with ErrNotAwaitingReply; a stale Request never touches another
// request.
func TestNotAwaitingReply(t *testing.T) {
	checkLeaks(t)
	for _, addr := range []string{"inproc://stale", "tcp://127.0.0.1:0"} {
		server := newNode(t, Config{})
		if err := server.Listen(context.Background(), addr); err != nil {
			t.Fatal(err)
		}
		client := newNode(t, Config{})
		seg := make([]byte, 10)
		done := make(chan error, 1)
		go func() {
			_, err := client.SendWithSegment(context.Background(), server.Addr(), []byte("a"), Bytes(seg), Read|Write)
			done <- err
		}()
		r, err := server.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Reply([]byte("first")); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"reply":      r.Reply(nil),
			"reply seg":  r.ReplyWithSegment(nil, 0, Bytes("x")),
			"move from":  r.MoveFrom(context.Background(), 0, Bytes(make([]byte, 1))),
			"move to":    r.MoveTo(context.Background(), 0, Bytes([]byte("x"))),
			"msg is nil": errIf(r.Message() != nil),
		} {
			if !errors.Is(err, ErrNotAwaitingReply) && err != nil {
				t.Errorf("%s %s after reply: %v", addr, name, err)
			} else if err == nil && name != "msg is nil" {
				t.Errorf("%s %s after reply succeeded", addr, name)
			}
		}
		// A cancelled Send withdraws its grant.
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, err := client.SendWithSegment(ctx, server.Addr(), []byte("b"), Bytes(seg), Read|Write)
			done <- err
		}()
		r, err = server.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; !isCtxErr(err) {
			t.Fatalf("cancelled send: %v", err)
		}
		if err := r.MoveTo(context.Background(), 0, Bytes([]byte("late"))); !errors.Is(err, ErrNotAwaitingReply) {
			t.Errorf("%s move into a withdrawn segment: %v", addr, err)
		}
		if string(seg[:4]) == "late" {
			t.Errorf("%s withdrawn segment written", addr)
		}
		_ = r.Reply(nil)
	}
}

func errIf(b bool) error {
	if b {
		return errors.New("unexpected")
	}
	return nil
}

func tempFile(t testing.TB, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

// A file segment that shrinks while its Send waits: the move fails with
// ErrSegmentBeyondFile and nothing else breaks.
func TestSegmentFileShrinks(t *testing.T) {
	checkLeaks(t)
	for _, addr := range []string{"inproc://shrink", "tcp://127.0.0.1:0"} {
		server := newNode(t, Config{})
		if err := server.Listen(context.Background(), addr); err != nil {
			t.Fatal(err)
		}
		client := newNode(t, Config{})
		f := tempFile(t, make([]byte, 1000))
		res := make(chan error, 1)
		go func() {
			_, err := client.SendWithSegment(context.Background(), server.Addr(), []byte("x"), FileRange{File: f, Length: 1000}, Read)
			res <- err
		}()
		r, err := server.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(500); err != nil {
			t.Fatal(err)
		}
		if err := r.MoveFrom(context.Background(), 400, Bytes(make([]byte, 200))); !errors.Is(err, ErrSegmentBeyondFile) {
			t.Errorf("%s: move from a shrunk file: %v", addr, err)
		}
		buf := make([]byte, 100)
		if err := r.MoveFrom(context.Background(), 0, Bytes(buf)); err != nil {
			t.Errorf("%s: move from the part still there: %v", addr, err)
		}
		_ = r.Reply(nil)
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
}

// A remote Send's call keeps watching the end of its context after the
// Send (call.watch), for the next Send with the same context. The end of
// a context must still end exactly the Sends that use it: one reused
// from Send to Send, one that ended while no Send used it, and one that
// shares its Done with another. With retransmissions an hour apart,
// nothing but the watch can notice the end of a context: a lost watch
// hangs the test.
func TestSendContextWatch(t *testing.T) {
	cfg := Config{RetransmitInterval: time.Hour, SessionTTL: 7 * time.Hour}
	transports(t, cfg, func(t *testing.T, client *Node, dest string) {
		echo := func(ctx context.Context) {
			t.Helper()
			if got, err := client.Send(ctx, dest, []byte{opEcho, 'x'}); err != nil || string(got) != "x" {
				t.Fatalf("echo: %q %v", got, err)
			}
		}
		// cancelled sends opNoReply with ctx, ends ctx with end once the
		// request was sent, and checks that the Send returns ctx's error.
		cancelled := func(what string, ctx context.Context, end context.CancelFunc) {
			t.Helper()
			done := make(chan error, 1)
			go func() {
				_, err := client.Send(ctx, dest, []byte{opNoReply})
				done <- err
			}()
			time.Sleep(20 * time.Millisecond) // most likely waiting for the reply by now
			end()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: %v, want %v", what, err, context.Canceled)
			}
		}

		reused, cancel := context.WithCancel(context.Background())
		for range 3 {
			echo(reused)
		}
		cancelled("context of earlier Sends", reused, cancel)
		echo(context.Background())

		idle, cancel := context.WithCancel(context.Background())
		echo(idle)
		cancel() // ends while no Send uses it
		if _, err := client.Send(idle, dest, []byte{opNoReply}); !errors.Is(err, context.Canceled) {
			t.Fatalf("send with an ended context: %v", err)
		}
		fresh, cancel := context.WithCancel(context.Background())
		cancelled("new context after an ended one", fresh, cancel)

		parent, cancel := context.WithCancel(context.Background())
		echo(parent)
		type key struct{}
		cancelled("context sharing Done", context.WithValue(parent, key{}, 1), cancel)
		echo(context.Background())
	})
}

// keptCalls returns the calls client's session to dest keeps for its next
// Sends, and the session.
// emptyCallPool empties callPool (a sync.Pool keeps its items through one
// collection, not two), so the next Send's call is a fresh one. A call an
// earlier test left there with large buffers (a long carry) is not kept by
// its session (maxIdleCallBuf), which the kept-call tests do not test.
func emptyCallPool() {
	runtime.GC()
	runtime.GC()
}

func keptCalls(t *testing.T, client *Node, dest string) ([]*call, *outPeer) {
	t.Helper()
	client.mu.Lock()
	op := client.out[dest]
	client.mu.Unlock()
	if op == nil {
		t.Fatalf("no session to %s", dest)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	return append([]*call(nil), op.idle...), op
}

// A context that ends while no Send uses it has woken its kept call
// already: the next Send with it must watch it again, or nothing ends
// that Send (retransmissions an hour apart).
func TestSendContextEndedIdle(t *testing.T) {
	emptyCallPool()
	cfg := Config{RetransmitInterval: time.Hour, SessionTTL: 7 * time.Hour}
	client := newNode(t, cfg)
	dest := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir()}).Addr()
	ctx, cancel := context.WithCancel(context.Background())
	if got, err := client.Send(ctx, dest, []byte{opEcho, 'x'}); err != nil || string(got) != "x" {
		t.Fatalf("echo: %q %v", got, err)
	}
	kept, _ := keptCalls(t, client, dest)
	if len(kept) != 1 || kept[0].watchStop == nil {
		t.Fatalf("kept %d calls after a Send with a cancellable context, want 1 watching it", len(kept))
	}
	cancel()
	for !kept[0].watchEnd.Load() { // the watch runs in its own goroutine
		time.Sleep(time.Millisecond)
	}
	if _, err := client.Send(ctx, dest, []byte{opNoReply}); !errors.Is(err, context.Canceled) {
		t.Fatalf("send with an ended context: %v", err)
	}
}

// A session's calls kept for its next Sends stop watching their contexts
// when the node closes: the caller's context outlives the node.
func TestSendContextWatchClosed(t *testing.T) {
	emptyCallPool()
	client := newNode(t, Config{})
	dest := startService(t, "tcp://127.0.0.1:0", Config{}, &service{dir: t.TempDir()}).Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got, err := client.Send(ctx, dest, []byte{opEcho, 'x'}); err != nil || string(got) != "x" {
		t.Fatalf("echo: %q %v", got, err)
	}
	kept, op := keptCalls(t, client, dest)
	if len(kept) != 1 || kept[0].watchStop == nil {
		t.Fatalf("kept %d calls after a Send with a cancellable context, want 1 watching it", len(kept))
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	op.mu.Lock()
	idle, closed := len(op.idle), op.idleClosed
	op.mu.Unlock()
	if idle != 0 || !closed || kept[0].watchStop != nil {
		t.Fatalf("after Close: %d calls kept (closed %v), watch %v", idle, closed, kept[0].watchStop != nil)
	}
}
