// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package core

import (
	"encoding/json"
	"errors"
	"math/bits"
	"strings"
	"testing"
)

func TestDigestRoundTrip(t *testing.T) {
	d := DigestOf([]byte("hello"))
	want := "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if d.String() != want {
		t.Fatalf("String = %s, want %s", d, want)
	}
	got, err := ParseDigest(want[7:])
	if err == nil {
		t.Fatalf("ParseDigest without prefix = %v, want error", got)
	}
	got, err = ParseDigest("sha256:" + strings.ToUpper(want[7:]))
	if err != nil || got != d {
		t.Fatalf("ParseDigest(upper) = %v, %v", got, err)
	}
	b, _ := json.Marshal(struct{ D Digest }{d})
	var back struct{ D Digest }
	if err := json.Unmarshal(b, &back); err != nil || back.D != d {
		t.Fatalf("json round trip: %s -> %v, %v", b, back.D, err)
	}
	if d.IsZero() || !(Digest{}).IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestParseDigestErrors(t *testing.T) {
	for _, s := range []string{
		"", "sha256:", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("0", 63),
		"sha256:" + strings.Repeat("0", 65), "sha256:" + strings.Repeat("g", 64), "SHA256:" + strings.Repeat("0", 64),
	} {
		if _, err := ParseDigest(s); !errors.Is(err, ErrBadDigest) {
			t.Errorf("ParseDigest(%q) err = %v, want ErrBadDigest", s, err)
		}
	}
}

func TestTaskID(t *testing.T) {
	a := TaskIDForURL("http://x/a", 1<<20)
	if !a.Valid() || len(a) != 64 {
		t.Fatalf("TaskIDForURL = %q, not valid", a)
	}
	if a != TaskIDForURL("http://x/a", 1<<20) {
		t.Fatal("TaskIDForURL not deterministic")
	}
	distinct := []TaskID{
		a,
		TaskIDForURL("http://x/a", 2<<20),
		TaskIDForURL("http://x/b", 1<<20),
		TaskIDForDigest(DigestOf(nil), 1<<20),
		TaskIDForDigest(DigestOf(nil), 2<<20),
		TaskIDForManifest([]Digest{DigestOf(nil)}, 1<<20),
		TaskIDForManifest([]Digest{DigestOf(nil), DigestOf(nil)}, 1<<20),
	}
	seen := map[TaskID]bool{}
	for _, id := range distinct {
		if seen[id] {
			t.Fatalf("collision on %s", id)
		}
		seen[id] = true
	}
	if id, err := ParseTaskID(string(a)); err != nil || id != a {
		t.Fatalf("ParseTaskID = %v, %v", id, err)
	}
	for _, s := range []string{"", "abc", strings.ToUpper(string(a)), string(a) + "0", "../" + string(a[3:])} {
		if _, err := ParseTaskID(s); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseTaskID(%q) err = %v, want ErrBadID", s, err)
		}
	}
	if a.Short() != string(a[:12]) {
		t.Errorf("Short = %q", a.Short())
	}
}

func TestPeerID(t *testing.T) {
	p := NewPeerID()
	if p.IsZero() || p == NewPeerID() {
		t.Fatal("NewPeerID not random")
	}
	q, err := ParsePeerID(p.String())
	if err != nil || q != p {
		t.Fatalf("ParsePeerID(%s) = %v, %v", p, q, err)
	}
	var r PeerID
	if err := r.UnmarshalText([]byte("xyz")); !errors.Is(err, ErrBadID) {
		t.Fatalf("UnmarshalText(xyz) = %v", err)
	}
}

func TestPieceSizeFor(t *testing.T) {
	for _, tc := range []struct{ size, want int64 }{
		{0, MinPieceSize},
		{1, MinPieceSize},
		{64 << 20, MinPieceSize},
		{256 << 20, MinPieceSize},
		{256<<20 + 1, 256 << 10},
		{512 << 20, 256 << 10},
		{512<<20 + 1, 512 << 10},
		{1 << 30, 512 << 10},
		{4 << 30, 2 << 20},
		{32 << 30, 16 << 20},
		{1 << 40, 16 << 20},
	} {
		if got := PieceSizeFor(tc.size); got != tc.want {
			t.Errorf("PieceSizeFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
	// Properties over a sweep: power of two, in bounds, at most
	// TargetMaxPieces pieces unless the maximum size forces more.
	for size := int64(1); size < 1<<42; size = size*3/2 + 7 {
		ps := PieceSizeFor(size)
		if bits.OnesCount64(uint64(ps)) != 1 || ps < MinPieceSize || ps > MaxPieceSize {
			t.Fatalf("PieceSizeFor(%d) = %d", size, ps)
		}
		n := LayoutFor(size).Pieces()
		if n > TargetMaxPieces && ps != MaxPieceSize {
			t.Fatalf("PieceSizeFor(%d) = %d gives %d pieces", size, ps, n)
		}
		if ps > MinPieceSize && n <= TargetMaxPieces/2 {
			t.Fatalf("PieceSizeFor(%d) = %d gives only %d pieces: a smaller size fits", size, ps, n)
		}
	}
}

func TestLayout(t *testing.T) {
	l := Layout{Size: 10, PieceSize: 4}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if l.Pieces() != 3 {
		t.Fatalf("Pieces = %d", l.Pieces())
	}
	want := []Range{{0, 4}, {4, 4}, {8, 2}}
	for i, r := range want {
		if got := l.Piece(PieceIndex(i)); got != r {
			t.Errorf("Piece(%d) = %v, want %v", i, got, r)
		}
	}
	if l.Contains(3) || !l.Contains(2) {
		t.Error("Contains wrong")
	}
	for off, want := range map[int64]PieceIndex{0: 0, 3: 0, 4: 1, 9: 2} {
		if got, ok := l.PieceAt(off); !ok || got != want {
			t.Errorf("PieceAt(%d) = %d, %v", off, got, ok)
		}
	}
	if _, ok := l.PieceAt(10); ok {
		t.Error("PieceAt(10) ok")
	}
	if f, la, ok := l.Span(Range{3, 6}); !ok || f != 0 || la != 2 {
		t.Errorf("Span = %d %d %v", f, la, ok)
	}
	if _, _, ok := l.Span(Range{8, 3}); ok {
		t.Error("Span past end ok")
	}
	if (Layout{Size: 0, PieceSize: 4}).Pieces() != 0 {
		t.Error("empty task has pieces")
	}
	for _, bad := range []Layout{{}, {Size: -1, PieceSize: 1}, {Size: 1, PieceSize: MaxPieceSize + 1}, {Size: 1 << 40, PieceSize: 1}} {
		if err := bad.Validate(); !errors.Is(err, ErrBadLayout) {
			t.Errorf("Validate(%+v) = %v", bad, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Piece(out of range) did not panic")
		}
	}()
	l.Piece(3)
}

func TestRange(t *testing.T) {
	r := Range{Off: 5, Len: 10}
	if r.End() != 15 || r.String() != "[5, 15)" {
		t.Fatalf("%v End=%d", r, r.End())
	}
}
