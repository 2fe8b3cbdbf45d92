// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// seedFrames are valid frames of every type, the seeds of the codec tests
// and the fuzz corpora (testdata/fuzz/Fuzz*/, written by TestWriteCorpus).
var seedFrames = map[string]frame{
	"hello":              helloFrame{Version: 1, Node: 0x0102030405060708, Session: 9, Addr: "tcp://127.0.0.1:7600"},
	"hello-noaddr":       helloFrame{Version: 1, Node: 1, Session: 1},
	"request":            requestFrame{Seq: 1, Ack: 1, Msg: []byte("ping")},
	"request-empty":      requestFrame{Seq: 7, Ack: 3, Retransmit: true},
	"request-seg-rw":     requestFrame{Seq: 2, Ack: 1, Msg: []byte("read page"), HasSeg: true, Access: Read | Write, SegLen: 4096, Carry: []byte("first bytes")},
	"request-stable":     requestFrame{Seq: 4, Ack: 4, Msg: []byte("move"), HasSeg: true, Access: Read, SegLen: 1 << 20, Carry: []byte("carried"), Stable: true},
	"request-stable-all": requestFrame{Seq: 9, Ack: 8, HasSeg: true, Access: Read, SegLen: 6, Carry: []byte("whole!"), Stable: true},
	"request-seg-w":      requestFrame{Seq: 3, Ack: 2, Msg: []byte("x"), HasSeg: true, Access: Write, SegLen: 1 << 40},
	"reply":              replyFrame{Seq: 1, Msg: []byte("pong")},
	"reply-error":        replyFrame{Seq: 2, Status: statusOutOfRange, Msg: []byte("bad range")},
	"reply-data":         replyFrame{Seq: 3, Msg: []byte("ok"), HasData: true, SegOff: 512, Data: []byte("page bytes")},
	"pending":            pendingFrame{Seq: 42},
	"movefrom":           moveFromFrame{Seq: 5, Move: 1, Off: 0, N: 1 << 20},
	"data":               dataFrame{Move: 1, Off: 4096, Data: []byte("chunk")},
	"data-empty":         dataFrame{Move: 2},
	"moveto":             moveToFrame{Seq: 5, Move: 2, Start: 100, Total: 10, Off: 105, Data: []byte("abcde")},
	"movedone":           moveDoneFrame{Move: 3},
	"movedone-error":     moveDoneFrame{Move: 4, Status: statusAccess, Detail: []byte("write access on a r grant")},
	"request-max-fields": requestFrame{Seq: 1<<64 - 1, Ack: 1<<64 - 1, HasSeg: true, Access: Read, SegLen: 1<<63 - 1},
}

func encode(t testing.TB, f frame) []byte {
	t.Helper()
	b, err := f.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != f.Len() {
		t.Fatalf("%T: Len %d, encoded %d bytes", f, f.Len(), len(b))
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	for name, f := range seedFrames {
		b := encode(t, f)
		got, n, err := parseFrame(append(b, 0xff)) // a trailing byte is not consumed
		if err != nil || n != len(b) {
			t.Fatalf("%s: parse: n=%d err=%v", name, n, err)
		}
		if got.frameType() != f.frameType() {
			t.Fatalf("%s: type %d, want %d", name, got.frameType(), f.frameType())
		}
		if b2 := encode(t, got); !bytes.Equal(b, b2) {
			t.Errorf("%s: re-encoded\n%x\nwant\n%x", name, b2, b)
		}
	}
}

// TestFrameTruncated cuts every frame at every length: always a clean
// io.ErrUnexpectedEOF.
func TestFrameTruncated(t *testing.T) {
	for name, f := range seedFrames {
		b := encode(t, f)
		for i := range len(b) {
			if _, _, err := parseFrame(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d/%d: %v, want io.ErrUnexpectedEOF", name, i, len(b), err)
			}
		}
	}
}

func TestFrameMalformed(t *testing.T) {
	req := encode(t, seedFrames["request-seg-rw"])
	cases := map[string][]byte{
		"bad version":   func() []byte { b := bytes.Clone(req); b[4] = 9; return b }(),
		"unknown type":  func() []byte { b := bytes.Clone(req); b[5] = 99; return b }(),
		"unknown flags": func() []byte { b := bytes.Clone(req); b[7] |= 0x80; return b }(),
		"msgLen too long": func() []byte {
			b := bytes.Clone(req)
			b[8+16+3] = 0xff
			return b
		}(),
		"bad access": func() []byte { b := bytes.Clone(req); b[8+20] = 0x7; return b }(),
		"carry beyond segment": encodeUnchecked(t, requestFrame{Seq: 1, HasSeg: true, Access: Read, SegLen: 2},
			[]byte("abc")),
		"carry without read": encodeUnchecked(t, requestFrame{Seq: 1, HasSeg: true, Access: Write, SegLen: 10},
			[]byte("abc")),
		"hello session 0": encode(t, helloFrame{Node: 1, Session: 0}),
		"pending trailing": func() []byte {
			b := encode(t, pendingFrame{Seq: 1})
			b[3]++
			return append(b, 0)
		}(),
		"negative offset": encode(t, moveFromFrame{Seq: 1, Move: 1, Off: -1, N: 1}),
	}
	for name, b := range cases {
		if _, _, err := parseFrame(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// encodeUnchecked encodes a request whose carry breaks the rules, bypassing
// Append's checks, to make sure the parser has its own.
func encodeUnchecked(t *testing.T, f requestFrame, carry []byte) []byte {
	t.Helper()
	b := encode(t, f)
	b = append(b, carry...)
	b[3] += byte(len(carry))
	return b
}

func TestWriteCorpus(t *testing.T) {
	if !*rewrite {
		t.Skip("run with -rewrite to regenerate testdata/fuzz")
	}
	writeCorpus(t)
}
