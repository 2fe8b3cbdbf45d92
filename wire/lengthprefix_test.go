// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"
)

// refLengthPrefix is a deliberately simple reference for LengthPrefix.Parse:
// it reads the field with math/big, byte by byte, and does all arithmetic in
// arbitrary precision.
func refLengthPrefix(offset, size int, little bool, adjust int64, head []byte) (int, bool) {
	if len(head) < offset+size {
		return 0, true
	}
	field := append([]byte(nil), head[offset:offset+size]...)
	if little {
		for i, j := 0, len(field)-1; i < j; i, j = i+1, j-1 {
			field[i], field[j] = field[j], field[i]
		}
	}
	v := new(big.Int).SetBytes(field)
	v.Add(v, big.NewInt(adjust))
	maxInt := new(big.Int).SetUint64(1<<63 - 1)
	if v.Cmp(big.NewInt(int64(offset+size))) < 0 || v.Cmp(maxInt) > 0 {
		return 0, false
	}
	// Fields above MaxInt64 are refused even if Adjust would bring them back.
	raw := new(big.Int).SetBytes(field)
	if raw.Cmp(maxInt) > 0 {
		return 0, false
	}
	return int(v.Int64()), true
}

func TestLengthPrefixProtocols(t *testing.T) {
	tests := []struct {
		name string
		p    LengthPrefix
		head []byte
		want int
	}{
		{"frames", Frames(), FrameHeader{Length: 300}.Append(nil), 308},
		{"frames-empty", Frames(), FrameHeader{}.Append(nil), 8},
		{"frames-short", Frames(), []byte{0, 0, 1}, 0},
		// HTTP/2 SETTINGS frame with 18 bytes of payload: 00 00 12 04 00 00000000.
		{"http2", HTTP2Frames(), []byte{0, 0, 0x12, 4, 0, 0, 0, 0, 0}, 18 + 9},
		{"http2-short", HTTP2Frames(), []byte{0, 0}, 0},
		// gRPC: uncompressed flag, 4-byte length 5.
		{"grpc", GRPCMessages(), []byte{0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}, 10},
		{"grpc-short", GRPCMessages(), []byte{1, 0, 0, 0}, 0},
		{"rds", RDS(), append(make([]byte, 16), 0, 0, 1, 0), 256 + 40},
		{"rds-short", RDS(), make([]byte, 19), 0},
		{"thrift", LengthPrefix{Size: 4, Adjust: 4}, []byte{0, 0, 0, 9}, 13},
		{"le16", LengthPrefix{Offset: 1, Size: 2, Order: binary.LittleEndian, Adjust: 3}, []byte{9, 0x34, 0x12}, 0x1234 + 3},
		{"native", LengthPrefix{Size: 8, Order: binary.NativeEndian}, binary.NativeEndian.AppendUint64(nil, 100), 100},
		{"size1", LengthPrefix{Size: 1}, []byte{200}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := tc.p.Parse(tc.head)
			if err != nil || got != tc.want {
				t.Fatalf("Parse = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestLengthPrefixErrors(t *testing.T) {
	for _, p := range []LengthPrefix{{Size: 0}, {Size: 9}, {Offset: -1, Size: 2}} {
		if p.Validate() == nil {
			t.Errorf("%+v: Validate = nil", p)
		}
		if _, err := p.Parse(make([]byte, 20)); err == nil {
			t.Errorf("%+v: Parse = nil error", p)
		}
		if _, err := NewMux(Config{Parser: p}); err == nil {
			t.Errorf("%+v: NewMux accepted it", p)
		}
	}
	bad := []struct {
		p    LengthPrefix
		head []byte
	}{
		{LengthPrefix{Size: 8}, bytes.Repeat([]byte{0xff}, 8)},                                      // over MaxInt64
		{LengthPrefix{Size: 8, Adjust: 10}, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, // overflow
		{LengthPrefix{Size: 4, Adjust: -10}, []byte{0, 0, 0, 5}},                                    // shorter than the field
	}
	for _, tc := range bad {
		if n, err := tc.p.Parse(tc.head); !errors.Is(err, ErrBadLength) {
			t.Errorf("%+v on %x = %d, %v; want ErrBadLength", tc.p, tc.head, n, err)
		}
	}
}

// FuzzLengthPrefix compares LengthPrefix with the reference parser over all
// sizes, offsets, orders and adjustments.
func FuzzLengthPrefix(f *testing.F) {
	f.Add(uint8(0), uint8(4), false, int64(8), []byte{0, 0, 1, 0})            // pollen frames
	f.Add(uint8(0), uint8(3), false, int64(9), []byte{0, 0, 0x12, 4, 0})      // HTTP/2
	f.Add(uint8(1), uint8(4), false, int64(5), []byte{0, 0, 0, 0, 5})         // gRPC
	f.Add(uint8(16), uint8(4), false, int64(40), make([]byte, 20))            // RDS
	f.Add(uint8(0), uint8(8), true, int64(-3), bytes.Repeat([]byte{0xff}, 8)) // huge
	f.Add(uint8(2), uint8(1), true, int64(0), []byte{1, 2})                   // short
	f.Fuzz(func(t *testing.T, offset, size uint8, little bool, adjust int64, head []byte) {
		p := LengthPrefix{Offset: int(offset % 32), Size: int(size%8) + 1, Adjust: adjust}
		if little {
			p.Order = binary.LittleEndian
		}
		got, err := p.Parse(head)
		want, ok := refLengthPrefix(p.Offset, p.Size, little, adjust, head)
		if ok != (err == nil) || got != want {
			t.Fatalf("%+v on %x: Parse = %d, %v; reference %d, %v", p, head, got, err, want, ok)
		}
	})
}
