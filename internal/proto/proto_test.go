// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
)

var (
	peerA = core.PeerID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	peerB = core.PeerID{0: 0xb0, 15: 0xbb}
	peerC = core.PeerID{0: 0xc0}
	peerD = core.PeerID{0: 0xd0}
	peerE = core.PeerID{0: 0xe0}
	peerF = core.PeerID{0: 0xf0}
	taskT = core.TaskIDForURL("https://example.com/blob", core.MinPieceSize)
	dig   = core.DigestOf([]byte("piece"))
	// taskB is taskT's 32 binary bytes.
	taskB, _ = hex.DecodeString(string(taskT))
)

// samples holds at least one message of every type, with edge cases: empty
// and full optional parts, maximal counts where cheap.
func samples() map[string]Message {
	bm := make([]byte, 13) // 100 pieces
	for _, i := range []core.PieceIndex{0, 7, 8, 50, 99} {
		BitmapSet(bm, i)
	}
	many := make([]DonePiece, MaxBatch)
	for i := range many {
		many[i] = DonePiece{Index: core.PieceIndex(i), Digest: dig}
	}
	parents := make([]Parent, MaxParents)
	for i := range parents {
		parents[i] = Parent{Peer: core.PeerID{0: byte(i + 1)}, Addr: fmt.Sprintf("10.0.0.%d:7601", i)}
	}
	addrs := []Parent{
		{Peer: peerA, Addr: "198.18.0.12:7601"},
		{Peer: peerB, Addr: "[2001:db8::1]:7601"},
		{Peer: peerC, Addr: "[fe80::1%eth0]:7601"},
		{Peer: peerD, Addr: "[::ffff:198.18.0.1]:7601"},
		{Peer: peerE, Addr: "peer-7.example:7601"},
		{Peer: peerF, Addr: "010.1.2.3:1"},
	}
	return map[string]Message{
		"register":            &Register{Peer: peerA, Upload: 125e6, Download: 1e9, Addr: "10.1.2.3:7601", Token: "s3cret"},
		"register-empty":      &Register{Peer: peerB},
		"register-long-addr":  &Register{Peer: peerA, Addr: strings.Repeat("a", MaxAddrLen), Token: strings.Repeat("t", MaxTokenLen)},
		"registered":          &Registered{HeartbeatMillis: 10000, AssignTimeoutMillis: 30000},
		"join":                &Join{Peer: peerA, Task: taskT, Layout: core.Layout{Size: 100*1024 - 1, PieceSize: 1024}, URL: "https://example.com/blob", Have: bm},
		"join-stream":         &Join{Peer: peerB, Task: taskT, Layout: core.Layout{Size: 1 << 30, PieceSize: 4 << 20}, Window: 16, URL: "file:///x"},
		"join-empty":          &Join{Peer: peerB, Task: taskT, Layout: core.Layout{PieceSize: core.MaxPieceSize}},
		"request":             &RequestPieces{Peer: peerA, Task: taskT, Max: 8, WaitMillis: 2000},
		"request-max":         &RequestPieces{Peer: peerA, Task: taskT, Max: MaxBatch, WaitMillis: MaxRetryMilli},
		"request-done":        &RequestPieces{Peer: peerA, Task: taskT, Max: 1, WaitMillis: 2000, Done: []DonePiece{{Index: 7, Digest: dig}}},
		"request-done-batch":  &RequestPieces{Peer: peerA, Task: taskT, Max: 1, Done: many},
		"schedule-wait":       &Schedule{State: StateWait, RetryMillis: 500},
		"schedule-done":       &Schedule{State: StateDone},
		"schedule":            &Schedule{Assignments: []Assignment{{Index: 3, Source: true}, {Index: 9, Digest: dig, Parents: []Parent{{Peer: peerB, Addr: "h:1"}, {Peer: peerA}}}}},
		"schedule-maxparents": &Schedule{Assignments: []Assignment{{Index: 1 << 21, Digest: dig, Parents: parents}}},
		"schedule-addrs":      &Schedule{Assignments: []Assignment{{Index: 5, Digest: dig, Parents: addrs}}},
		"piecedone":           &PieceDone{Peer: peerA, Task: taskT, Pieces: []DonePiece{{Index: 7, Digest: dig}}},
		"piecedone-batch":     &PieceDone{Peer: peerA, Task: taskT, Pieces: many},
		"piecefailed":         &PieceFailed{Peer: peerA, Task: taskT, Index: 4, Parent: peerB, Reason: ReasonCorrupt},
		"piecefailed-source":  &PieceFailed{Peer: peerA, Task: taskT, Index: 4, Reason: ReasonUnreachable},
		"evicted":             &Evicted{Peer: peerB, Task: taskT, Indices: []uint32{0, 1, 2, 1 << 31}},
		"leave":               &Leave{Peer: peerA, Task: taskT},
		"leave-all":           &Leave{Peer: peerA, All: true}, // empty task: 32 zero bytes,
		"heartbeat":           &Heartbeat{Peer: peerA, Uploads: 3, Downloads: 4, UploadRate: 1e6, DownloadRate: 2e6},
		"taskinfo":            &TaskInfo{Task: taskT, Size: 1 << 40, PieceSize: 4 << 20, Peers: 1000, Seeds: 3},
		"ack":                 &Ack{},
		"error":               &Error{Code: CodeUnknownPeer, Text: "scheduler: unknown peer"},
		"error-empty":         &Error{Code: CodeInternal},
		"getpiece":            &GetPiece{Task: taskT, Index: 12, Peer: peerB},
		"piece":               &Piece{Task: taskT, Index: 12, Length: 4 << 20},
		"miss":                &Miss{Task: taskT, Index: 12, Reason: MissEvicted},
	}
}

func encode(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := m.Append(nil)
	if err != nil {
		t.Fatalf("%v: append: %v", m.Type(), err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	seen := map[Type]bool{}
	for name, m := range samples() {
		t.Run(name, func(t *testing.T) {
			b := encode(t, m)
			if len(b) != m.Len() {
				t.Errorf("Len() = %d, encoded %d bytes", m.Len(), len(b))
			}
			if b[0] != Version || Type(b[1]) != m.Type() {
				t.Errorf("header % x, want version %d type %v", b[:2], Version, m.Type())
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
			}
			// Append appends: a prefix stays in place.
			pre := []byte("prefix")
			b2, err := m.Append(pre)
			if err != nil || !bytes.Equal(b2[:6], []byte("prefix")) || !bytes.Equal(b2[6:], b) {
				t.Errorf("Append(prefix) = % x, %v", b2, err)
			}
		})
		seen[m.Type()] = true
	}
	for typ := range typeNames {
		if !seen[typ] {
			t.Errorf("no sample of %v", typ)
		}
	}
}

// TestTruncated cuts every encoding at every length: each cut must fail
// with io.ErrUnexpectedEOF, never another error, a panic or a message.
func TestTruncated(t *testing.T) {
	for name, m := range samples() {
		b := encode(t, m)
		for i := range len(b) {
			if _, err := Decode(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d of %d: err = %v, want io.ErrUnexpectedEOF", name, i, len(b), err)
			}
		}
	}
}

func TestTrailing(t *testing.T) {
	b := encode(t, &Ack{})
	if _, err := Decode(append(b, 0)); !errors.Is(err, ErrTrailing) {
		t.Fatalf("err = %v, want ErrTrailing", err)
	}
	// Parse leaves the piece bytes after a Piece header alone.
	hdr := encode(t, &Piece{Task: taskT, Index: 1, Length: 3})
	m, n, err := Parse(append(hdr, "abc"...))
	if err != nil || n != len(hdr) || m.(*Piece).Length != 3 {
		t.Fatalf("Parse = %+v, %d, %v; want header of %d bytes", m, n, err, len(hdr))
	}
}

// TestRejects checks that malformed and oversized input gets a clear error.
func TestRejects(t *testing.T) {
	hdr := func(t Type) []byte { return []byte{Version, byte(t)} }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	z := func(n int) []byte { return make([]byte, n) }
	u16 := func(v uint16) []byte { return appendU16(nil, v) }
	u32 := func(v uint32) []byte { return appendU32(nil, v) }
	u64 := func(v uint64) []byte { return appendU64(nil, v) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"version", []byte{Version + 1, byte(TypeAck)}, ErrVersion},
		{"version 1", []byte{1, byte(TypeAck)}, ErrVersion},
		{"type", []byte{Version, 0x7f}, ErrUnknownType},
		{"register zero peer", cat(hdr(TypeRegister), z(16+16+2)), ErrMalformed},
		{"join piece size 0", cat(hdr(TypeJoin), peerA[:], taskB, u64(1), u32(0), u16(0), u16(0), u32(0)), ErrLimit},
		{"join piece size", cat(hdr(TypeJoin), peerA[:], taskB, u64(1), u32(core.MaxPieceSize+1), u16(0), u16(0), u32(0)), ErrLimit},
		{"join negative size", cat(hdr(TypeJoin), peerA[:], taskB, u64(1<<63), u32(1024), u16(0), u16(0), u32(0)), ErrLimit},
		{"join too many pieces", cat(hdr(TypeJoin), peerA[:], taskB, u64(2*core.MaxPieces), u32(1), u16(0), u16(0), u32(0)), ErrLimit},
		{"join empty task", cat(hdr(TypeJoin), peerA[:], z(32), u64(1), u32(1024), u16(0), u16(0), u32(0)), ErrMalformed},
		{"join window", cat(hdr(TypeJoin), peerA[:], taskB, u64(1), u32(1024), u16(MaxWindow+1), u16(0), u32(0)), ErrLimit},
		{"join url", cat(hdr(TypeJoin), peerA[:], taskB, u64(1), u32(1024), u16(0), u16(MaxURLLen+1)), ErrLimit},
		{"join bitmap over limit", cat(hdr(TypeJoin), peerA[:], taskB, u64(1), u32(1024), u16(0), u16(0), u32(core.MaxPieces/8+1)), ErrLimit},
		{"join bitmap length", cat(hdr(TypeJoin), peerA[:], taskB, u64(9*1024), u32(1024), u16(0), u16(0), u32(1), []byte{0xff}), ErrMalformed},
		{"join bitmap spare bits", cat(hdr(TypeJoin), peerA[:], taskB, u64(9*1024), u32(1024), u16(0), u16(0), u32(2), []byte{0xff, 0xc0}), ErrMalformed},
		{"request max 0", cat(hdr(TypeRequestPieces), peerA[:], taskB, u16(0), u32(0), u16(0)), ErrLimit},
		{"request version 1", cat(hdr(TypeRequestPieces), peerA[:], taskB, u16(1), u32(0)), io.ErrUnexpectedEOF},
		{"request done count", cat(hdr(TypeRequestPieces), peerA[:], taskB, u16(1), u32(0), u16(MaxBatch+1)), ErrLimit},
		{"request done short", cat(hdr(TypeRequestPieces), peerA[:], taskB, u16(1), u32(0), u16(2), u32(0), z(32)), io.ErrUnexpectedEOF},
		{"schedule state", cat(hdr(TypeSchedule), []byte{3}, u32(0), u16(0)), ErrMalformed},
		{"schedule count", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(MaxBatch+1)), ErrLimit},
		{"schedule flags", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{4, 0}), ErrMalformed},
		{"schedule parents", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, MaxParents + 1}), ErrLimit},
		{"schedule source and parents", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{1, 1}, peerA[:], []byte{0, 0}), ErrMalformed},
		{"schedule no source no parents", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 0}), ErrMalformed},
		{"schedule zero digest", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{3}, z(32), []byte{0}), ErrMalformed},
		{"schedule zero parent", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 1}, z(16), []byte{0, 0}), ErrMalformed},
		{"schedule address kind", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 1}, peerA[:], []byte{5}, z(6)), ErrMalformed},
		{"schedule address in text form", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 1}, peerA[:], []byte{0, 9}, []byte("1.2.3.4:5")), ErrMalformed},
		{"schedule mapped address", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 1}, peerA[:], []byte{6}, z(10), []byte{0xff, 0xff, 1, 2, 3, 4}, u16(5)), ErrMalformed},
		{"schedule address short", cat(hdr(TypeSchedule), []byte{0}, u32(0), u16(1), u32(0), []byte{0, 1}, peerA[:], []byte{4, 1, 2, 3}), io.ErrUnexpectedEOF},
		{"schedule wait with work", cat(hdr(TypeSchedule), []byte{1}, u32(0), u16(1), u32(0), []byte{1, 0}), ErrMalformed},
		{"piecedone empty", cat(hdr(TypePieceDone), peerA[:], taskB, u16(0)), ErrMalformed},
		{"piecedone count", cat(hdr(TypePieceDone), peerA[:], taskB, u16(MaxBatch+1)), ErrLimit},
		{"piecefailed reason", cat(hdr(TypePieceFailed), peerA[:], taskB, u32(0), z(16), []byte{9}), ErrMalformed},
		{"leave flag", cat(hdr(TypeLeave), peerA[:], taskB, []byte{2}), ErrMalformed},
		{"error text", cat(hdr(TypeError), u16(1), u16(MaxErrorLen+1)), ErrLimit},
		{"piece length", cat(hdr(TypePiece), taskB, u32(0), u32(core.MaxPieceSize+1)), ErrLimit},
		{"miss reason", cat(hdr(TypeMiss), taskB, u32(0), []byte{0}), ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestClaimedLengthsDoNotAllocate checks that a count the input cannot back
// is refused before the decoder allocates for it: a truncated batch that
// claims MaxBatch pieces costs what one claiming a single piece costs (the
// task id string).
func TestClaimedLengthsDoNotAllocate(t *testing.T) {
	allocs := func(count uint16) float64 {
		in := bytes.Join([][]byte{{Version, byte(TypePieceDone)}, peerA[:], taskB, appendU16(nil, count)}, nil)
		return testing.AllocsPerRun(100, func() {
			if _, err := Decode(in); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatal(err)
			}
		})
	}
	if one, most := allocs(1), allocs(MaxBatch); most > one {
		t.Errorf("%v allocations for a truncated batch of %d, %v for a batch of 1", most, MaxBatch, one)
	}
}

func TestAppendRejects(t *testing.T) {
	bad := []Message{
		&Register{},
		&Register{Peer: peerA, Addr: strings.Repeat("a", MaxAddrLen+1)},
		&Join{Peer: peerA, Task: taskT, Layout: core.Layout{Size: 10, PieceSize: 1024}, Have: []byte{1, 2}},
		&Join{Peer: peerA, Task: "not hex", Layout: core.Layout{Size: 10, PieceSize: 1024}},
		&RequestPieces{Peer: peerA},
		&RequestPieces{Peer: peerA, Max: 1, Done: make([]DonePiece, MaxBatch+1)},
		&Schedule{Assignments: []Assignment{{Index: 1}}},
		&Schedule{Assignments: []Assignment{{Index: 1, Parents: make([]Parent, MaxParents+1)}}},
		&PieceDone{},
		&Evicted{},
		&PieceFailed{},
		&Error{Text: strings.Repeat("e", MaxErrorLen+1)},
		&Piece{Length: core.MaxPieceSize + 1},
		&Miss{},
	}
	for _, m := range bad {
		if b, err := m.Append(nil); err == nil {
			t.Errorf("%v %+v: Append = % x, want error", m.Type(), m, b)
		}
	}
}

func TestBitmap(t *testing.T) {
	bm := make([]byte, 2)
	BitmapSet(bm, 0)
	BitmapSet(bm, 9)
	if !bytes.Equal(bm, []byte{0x80, 0x40}) {
		t.Fatalf("bitmap % x", bm)
	}
	for i, want := range map[core.PieceIndex]bool{0: true, 1: false, 9: true, 16: false} {
		if BitmapHas(bm, i) != want {
			t.Errorf("BitmapHas(%d) = %v", i, !want)
		}
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode from samples()")

// TestWriteCorpus regenerates the committed seed corpus: one file per
// sample, named after it, so each seed says what it is.
func TestWriteCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, m := range samples() {
		if strings.HasSuffix(name, "-batch") {
			continue // 36 KiB; the fuzzer finds long batches from the short ones
		}
		b := encode(t, m)
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestParentAddressForm checks which parent addresses travel in 7 or 19
// bytes (an IP literal and port) and which as text.
func TestParentAddressForm(t *testing.T) {
	for addr, want := range map[string]int{
		"198.18.0.12:7601":         7,
		"[2001:db8::1]:7601":       19,
		"peer-7.example:7601":      2 + len("peer-7.example:7601"),
		"[fe80::1%eth0]:7601":      2 + len("[fe80::1%eth0]:7601"),
		"[::ffff:198.18.0.1]:7601": 2 + len("[::ffff:198.18.0.1]:7601"),
		"":                         2,
	} {
		m := &Schedule{Assignments: []Assignment{{Index: 1, Digest: dig, Parents: []Parent{{Peer: peerA, Addr: addr}}}}}
		if got := len(encode(t, m)) - (HeaderLen + 7 + 6 + 32 + 16); got != want {
			t.Errorf("%q: %d bytes, want %d", addr, got, want)
		}
	}
}
