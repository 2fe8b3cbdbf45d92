// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
)

func testHeader(pieceDigests bool) *header {
	l := core.Layout{Size: 10, PieceSize: 4}
	h := &header{id: core.TaskIDForURL("http://origin/x", l.PieceSize), layout: l, url: "http://origin/x", digest: core.DigestOf([]byte("x"))}
	if pieceDigests {
		h.pieceDigests = []core.Digest{core.DigestOf([]byte("a")), core.DigestOf([]byte("b")), core.DigestOf([]byte("c"))}
	}
	return h
}

func hashState(t testing.TB, b []byte) []byte {
	h := sha256.New()
	h.Write(b)
	s, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testRecords returns one record of each kind.
func testRecords(t testing.TB) []record {
	return []record{
		testHeader(true),
		testHeader(false),
		pieceRecord{index: 2, digest: core.DigestOf([]byte("c"))},
		hashRecord{prefix: 1, state: hashState(t, []byte("abcd"))},
		completeRecord{digest: core.DigestOf([]byte("x"))},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range testRecords(t) {
		b := appendRecord([]byte("prefix"), r)
		got, n, err := parseRecord(b[len("prefix"):])
		if err != nil || n != len(b)-len("prefix") {
			t.Fatalf("parseRecord(%T) = %d, %v", r, n, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip %T: got %+v, want %+v", r, got, r)
		}
		again := appendRecord(nil, got)
		if !bytes.Equal(again, b[len("prefix"):]) {
			t.Fatalf("re-encoding %T differs", r)
		}
	}
}

// TestRecordTruncated cuts every record at every length: a cut frame is
// io.ErrUnexpectedEOF, never a panic or a wrong record.
func TestRecordTruncated(t *testing.T) {
	for _, r := range testRecords(t) {
		b := appendRecord(nil, r)
		for i := range len(b) {
			if _, _, err := parseRecord(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%T cut at %d of %d: err = %v, want io.ErrUnexpectedEOF", r, i, len(b), err)
			}
		}
	}
}

// TestRecordCorrupt flips every bit of every record: the checksum (or a
// length check) catches it.
func TestRecordCorrupt(t *testing.T) {
	for _, r := range testRecords(t) {
		b := appendRecord(nil, r)
		for i := range 8 * len(b) {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			if got, _, err := parseRecord(c); err == nil {
				t.Fatalf("%T with bit %d flipped parsed as %+v", r, i, got)
			}
		}
	}
}

func TestRecordBadBodies(t *testing.T) {
	frame := func(payload ...byte) []byte {
		return appendRecord(nil, rawRecord(payload))
	}
	for name, b := range map[string][]byte{
		"unknown kind":     frame(99),
		"short piece":      frame(kindPiece, 0, 0, 0),
		"long piece":       append(frame(append([]byte{kindPiece}, make([]byte, 37)...)...), 0),
		"long complete":    frame(append([]byte{kindComplete}, make([]byte, 33)...)...),
		"header version 9": frame(kindHeader, 9),
		"header bad id":    frame(append([]byte{kindHeader, journalFormat, 3, 'a', 'b', 'c'}, make([]byte, 8+8+32+2+4)...)...),
		"zero length":      make([]byte, frameLen),
	} {
		if _, _, err := parseRecord(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// rawRecord lets tests frame arbitrary payloads: kind is the first byte.
type rawRecord []byte

func (r rawRecord) kind() byte                 { return r[0] }
func (r rawRecord) appendBody(b []byte) []byte { return append(b, r[1:]...) }

func testJournal(t testing.TB) (b []byte, want *journalState) {
	h := testHeader(false)
	b = appendRecord(nil, h)
	want = &journalState{hdr: h, present: newBitmap(3), digests: make([]core.Digest, 3)}
	for _, i := range []core.PieceIndex{1, 0} {
		d := core.DigestOf([]byte{byte(i)})
		b = appendRecord(b, pieceRecord{index: i, digest: d})
		want.present.set(int(i))
		want.digests[i] = d
	}
	want.hashed = hashRecord{prefix: 2, state: hashState(t, []byte("01234567"))}
	b = appendRecord(b, want.hashed)
	return b, want
}

func TestReplay(t *testing.T) {
	b, want := testJournal(t)
	st, good, err := replay(b)
	if err != nil || good != len(b) {
		t.Fatalf("replay = %d, %v", good, err)
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("replay = %+v, want %+v", st, want)
	}
	// Every cut after the header recovers the records before the cut.
	hdrLen := len(appendRecord(nil, want.hdr))
	for i := range len(b) {
		st, good, err := replay(b[:i])
		switch {
		case i < hdrLen:
			if st != nil || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d in header: %v, %v", i, st, err)
			}
		case good > i || (good < i && err == nil):
			t.Fatalf("cut at %d: good = %d, err = %v", i, good, err)
		}
	}
}

func TestReplayRejects(t *testing.T) {
	h := testHeader(true)
	base := appendRecord(nil, h)
	for name, tc := range map[string]struct {
		recs []record
	}{
		"piece out of range":   {[]record{pieceRecord{index: 3}}},
		"piece digest differs": {[]record{pieceRecord{index: 0, digest: core.DigestOf([]byte("z"))}}},
		"hash past prefix":     {[]record{hashRecord{prefix: 1}}},
		"complete too early":   {[]record{completeRecord{digest: h.digest}}},
		"second header":        {[]record{h}},
	} {
		b := bytes.Clone(base)
		for _, r := range tc.recs {
			b = appendRecord(b, r)
		}
		st, good, err := replay(b)
		if st == nil || good != len(base) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: good = %d of %d, err = %v", name, good, len(base), err)
		}
	}
	if _, _, err := replay(appendRecord(nil, pieceRecord{})); !errors.Is(err, ErrCorrupt) {
		t.Errorf("journal without header: err = %v", err)
	}
}

// FuzzJournal feeds arbitrary bytes to replay: it must never panic, and
// whatever it accepts must survive re-encoding unchanged (decode, encode,
// decode gives the same state, and encoding that gives the same bytes).
// The seed corpus in testdata/fuzz/FuzzJournal holds valid, torn and
// corrupt journals.
func FuzzJournal(f *testing.F) {
	b, _ := testJournal(f)
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add(appendRecord(nil, testHeader(true)))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The checksum stops most mutations at the frame; frame the
		// input as a payload too, so that the body parsers see it.
		if len(b) > 0 {
			framed := appendRecord(nil, rawRecord(b))
			if r, n, err := parseRecord(framed); err == nil {
				if n != len(framed) || !bytes.Equal(appendRecord(nil, r), framed) {
					t.Fatalf("record %T does not re-encode to its input", r)
				}
			}
		}
		st, good, err := replay(b)
		if good > len(b) || (good < len(b) && err == nil) {
			t.Fatalf("good = %d of %d with err = %v", good, len(b), err)
		}
		if st == nil {
			return
		}
		enc := st.encode()
		st2, good2, err := replay(enc)
		if err != nil || good2 != len(enc) {
			t.Fatalf("replay of re-encoded journal: %d of %d, %v", good2, len(enc), err)
		}
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("re-encoded state differs:\n%+v\n%+v", st, st2)
		}
		if !bytes.Equal(enc, st2.encode()) {
			t.Fatal("encoding not stable")
		}
	})
}

// encode writes st as a compact journal: the header, one record per present
// piece in index order, the checkpoint and completion. Replaying the result
// yields st again.
func (st *journalState) encode() []byte {
	b := appendRecord(nil, st.hdr)
	for i := range st.hdr.layout.Pieces() {
		if st.present.has(i) {
			b = appendRecord(b, pieceRecord{index: core.PieceIndex(i), digest: st.digests[i]})
		}
	}
	if st.hashed.prefix > 0 || len(st.hashed.state) > 0 {
		b = appendRecord(b, st.hashed)
	}
	if st.complete {
		b = appendRecord(b, completeRecord{digest: st.sum})
	}
	return b
}
