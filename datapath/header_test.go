// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{},
		{Flags: FlagEnd, PayloadLen: PayloadSize, Seq: 1, Stream: 7},
		{Flags: 0xff, PayloadLen: MaxPayload, Seq: 1<<32 - 1, Stream: 1<<32 - 1},
	} {
		b, err := h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != h.Len() || len(b) != HeaderLen {
			t.Fatalf("encoded %d bytes, Len %d", len(b), h.Len())
		}
		var put [HeaderLen]byte
		h.put(put[:])
		if !bytes.Equal(put[:], b) {
			t.Fatalf("put % x, Append % x", put, b)
		}
		got, n, err := ParseHeader(append(b, 0xaa)) // trailing payload is left alone
		if err != nil || n != HeaderLen || got != h {
			t.Fatalf("ParseHeader = %+v, %d, %v; want %+v", got, n, err, h)
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	good, _ := (&Header{PayloadLen: 3, Seq: 9}).Append(nil)
	for i := range len(good) {
		if _, _, err := ParseHeader(good[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: err %v, want io.ErrUnexpectedEOF", i, err)
		}
	}
	bad := bytes.Clone(good)
	bad[0] = 2
	if _, _, err := ParseHeader(bad); !errors.Is(err, ErrHeaderVersion) {
		t.Errorf("version 2: err %v", err)
	}
	long := bytes.Clone(good)
	long[2], long[3] = 0xff, 0xff
	if _, _, err := ParseHeader(long); !errors.Is(err, ErrPayloadLen) {
		t.Errorf("payload 65535: err %v", err)
	}
	if _, err := (&Header{PayloadLen: MaxPayload + 1}).Append(nil); !errors.Is(err, ErrPayloadLen) {
		t.Errorf("Append of oversize payload: err %v", err)
	}
}

// FuzzHeader checks that any header ParseHeader accepts re-encodes to the
// same bytes, that a cut header is io.ErrUnexpectedEOF, and that nothing
// panics. Seeds are in testdata/fuzz/FuzzHeader.
func FuzzHeader(f *testing.F) {
	f.Add([]byte{1, 0, 0x05, 0x78, 0, 0, 0, 1, 0, 0, 0, 7}) // a full 1400-byte datagram, seq 1, stream 7
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if len(b) < HeaderLen {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("short input %x: err %v", b, err)
			}
			return
		}
		if err != nil {
			return
		}
		if n != HeaderLen {
			t.Fatalf("consumed %d", n)
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", h, err)
		}
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("round trip % x → % x", b[:n], out)
		}
		for i := range n {
			if _, _, err := ParseHeader(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d: %v", i, err)
			}
		}
	})
}
