// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	h := FrameHeader{Length: 0x01020304, Version: ProtocolVersion, Type: 5, Flags: 0xa0b0}
	b := h.Append([]byte{0xee})
	if want := []byte{0xee, 1, 2, 3, 4, 1, 5, 0xa0, 0xb0}; !bytes.Equal(b, want) {
		t.Fatalf("Append = %x, want %x", b, want)
	}
	if h.Len() != FrameHeaderLen {
		t.Fatalf("Len = %d", h.Len())
	}
	got, n, err := ParseFrameHeader(append(b[1:], 0xff))
	if err != nil || n != FrameHeaderLen || got != h {
		t.Fatalf("ParseFrameHeader = %+v, %d, %v", got, n, err)
	}
	if l, _ := Frames().Parse(b[1:]); l != 0x01020304+FrameHeaderLen {
		t.Fatalf("Frames().Parse = %d", l)
	}
}

// TestFrameHeaderShort cuts a header at every length.
func TestFrameHeaderShort(t *testing.T) {
	b := FrameHeader{Length: 9, Version: 1}.Append(nil)
	for i := range len(b) {
		if _, n, err := ParseFrameHeader(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) || n != 0 {
			t.Fatalf("ParseFrameHeader(%d bytes) = %d, %v", i, n, err)
		}
	}
}

// FuzzFrameHeader checks decode → re-encode byte-identical.
func FuzzFrameHeader(f *testing.F) {
	f.Add(FrameHeader{Length: 300, Version: 1, Type: 2, Flags: 3}.Append(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseFrameHeader(b)
		if err != nil {
			if len(b) >= FrameHeaderLen || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ParseFrameHeader(%x): %v", b, err)
			}
			return
		}
		if n != FrameHeaderLen {
			t.Fatalf("consumed %d", n)
		}
		if got := h.Append(nil); !bytes.Equal(got, b[:n]) {
			t.Fatalf("re-encoded %x, want %x", got, b[:n])
		}
	})
}
