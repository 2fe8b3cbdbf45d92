// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/fuzz seed corpora")

// Each decoder has a fuzz target. The property: whatever parses re-encodes
// to the same bytes (decoding is canonical), every prefix of it is
// io.ErrUnexpectedEOF, and nothing panics or allocates beyond the input.

// addSeeds adds the seed frames of type typ to f's corpus.
func addSeeds(f *testing.F, typ uint8) {
	for _, fr := range seedFrames {
		if fr.frameType() == typ {
			b, _ := fr.Append(nil)
			f.Add(b)
		}
	}
}

func fuzzDecoder[F frame](f *testing.F, typ uint8, parse func([]byte) (F, int, error)) {
	addSeeds(f, typ)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := parse(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		out, err := fr.Append(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoded\n%x\nwant\n%x", out, b[:n])
		}
		for i := range n {
			if _, _, err := parse(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d/%d: %v", i, n, err)
			}
		}
	})
}

func FuzzHello(f *testing.F)    { fuzzDecoder(f, frameHello, parseHello) }
func FuzzRequest(f *testing.F)  { fuzzDecoder(f, frameRequest, parseRequest) }
func FuzzReply(f *testing.F)    { fuzzDecoder(f, frameReply, parseReply) }
func FuzzPending(f *testing.F)  { fuzzDecoder(f, framePending, parsePending) }
func FuzzMoveFrom(f *testing.F) { fuzzDecoder(f, frameMoveFrom, parseMoveFrom) }
func FuzzData(f *testing.F)     { fuzzDecoder(f, frameData, parseData) }
func FuzzMoveTo(f *testing.F)   { fuzzDecoder(f, frameMoveTo, parseMoveTo) }
func FuzzMoveDone(f *testing.F) { fuzzDecoder(f, frameMoveDone, parseMoveDone) }

// A headDecoder decodes the fixed part of a frame read as a stream (the
// total length from the connection, the bytes possibly cut short): the
// frame without its variable parts, the fixed part's length and the two
// variable parts' lengths.
type headDecoder[F any] func(b []byte, total int64) (h F, fixed int, l1, l2 int64, err error)

// fuzzHead checks a head decoder against the whole-frame decoder of the
// same type (whole: the frame without its variable parts, the bytes
// decoded and the variable parts' lengths): given the whole frame's length
// it accepts exactly the frames whole accepts, with the same fields and
// lengths, and a head cut short of its fixed part is io.ErrUnexpectedEOF.
func fuzzHead[F any](f *testing.F, typ uint8, head headDecoder[F], whole func(b []byte) (F, int, int64, int64, error)) {
	addSeeds(f, typ)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, fixed, l1, l2, err := head(b, int64(len(b)))
		want, n, w1, w2, werr := whole(b)
		if werr == nil && n != len(b) {
			werr = ErrMalformed // a trailing byte: the head decoder sees the message's length
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("head: %v, whole frame: %v", err, werr)
		}
		if err != nil {
			return
		}
		if int64(fixed)+l1+l2 != int64(len(b)) || l1 != w1 || l2 != w2 {
			t.Fatalf("fixed %d, variable parts %d and %d; want %d and %d of %d", fixed, l1, l2, w1, w2, len(b))
		}
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("head %+v, want %+v", h, want)
		}
		for i := range fixed {
			if _, _, _, _, err := head(b[:i], int64(len(b))); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("head cut at %d/%d: %v", i, fixed, err)
			}
		}
	})
}

// FuzzRequestHead feeds parseRequestHead, the decoder of a streamed
// request's fixed part, against parseRequest (fuzzHead).
func FuzzRequestHead(f *testing.F) {
	fuzzHead(f, frameRequest, parseRequestHead, func(b []byte) (requestFrame, int, int64, int64, error) {
		w, n, err := parseRequest(b)
		lm, lc := int64(len(w.Msg)), int64(len(w.Carry))
		w.Msg, w.Carry = nil, nil
		return w, n, lm, lc, err
	})
}

// FuzzReplyHead feeds parseReplyHead, the decoder of a long reply's fixed
// part (its data left on the connection), against parseReply (fuzzHead).
func FuzzReplyHead(f *testing.F) {
	head := func(b []byte, total int64) (replyFrame, int, int64, int64, error) {
		h, lm, ld, err := parseReplyHead(b, total)
		return h, replyHeadLen(b), lm, ld, err
	}
	fuzzHead(f, frameReply, head, func(b []byte) (replyFrame, int, int64, int64, error) {
		w, n, err := parseReply(b)
		lm, ld := int64(len(w.Msg)), int64(len(w.Data))
		w.Msg, w.Data = nil, nil
		return w, n, lm, ld, err
	})
}

// FuzzFrame feeds parseFrame, the dispatcher the session loops use.
func FuzzFrame(f *testing.F) {
	for _, fr := range seedFrames {
		b, _ := fr.Append(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := parseFrame(b)
		if err != nil {
			return
		}
		out, err := fr.Append(nil)
		if err != nil || !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encode: %v\n%x\nwant\n%x", err, out, b[:n])
		}
	})
}

var fuzzTargets = map[uint8]string{
	frameHello: "FuzzHello", frameRequest: "FuzzRequest", frameReply: "FuzzReply",
	framePending: "FuzzPending", frameMoveFrom: "FuzzMoveFrom", frameData: "FuzzData",
	frameMoveTo: "FuzzMoveTo", frameMoveDone: "FuzzMoveDone",
}

// writeCorpus writes each seed frame as a corpus file named after it (the
// name says what the seed is), plus a few invalid inputs per target.
func writeCorpus(t *testing.T) {
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, fr := range seedFrames {
		b := encode(t, fr)
		write(fuzzTargets[fr.frameType()], name, b)
		write("FuzzFrame", name, b)
		write(fuzzTargets[fr.frameType()], name+"-truncated", b[:len(b)-1])
		bad := bytes.Clone(b)
		bad[3]-- // one payload byte fewer than the fields need (or a trailing one dropped)
		write(fuzzTargets[fr.frameType()], name+"-short-length", bad)
		switch fr.frameType() {
		case frameRequest:
			write("FuzzRequestHead", name, b)
			write("FuzzRequestHead", name+"-short-length", bad)
		case frameReply:
			write("FuzzReplyHead", name, b)
			write("FuzzReplyHead", name+"-short-length", bad)
		}
	}
	write("FuzzFrame", "empty", nil)
	write("FuzzFrame", "unknown-type", []byte{0, 0, 0, 0, 1, 200, 0, 0})
}
