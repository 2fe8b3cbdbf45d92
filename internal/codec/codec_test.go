// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package codec_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/codec"
	"github.com/pollen-dev/pollen/internal/core"
)

var (
	errLimit     = errors.New("test: over limit")
	errMalformed = errors.New("test: malformed")
	format       = codec.Format{Limit: errLimit, Malformed: errMalformed}
)

func TestRoundTrip(t *testing.T) {
	task := core.TaskID(strings.Repeat("ab", 32))
	b, err := format.AppendTask(nil, task)
	if err != nil {
		t.Fatal(err)
	}
	b, err = format.AppendTask(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, err = format.AppendStr(b, 1, "addr", 10, "addr"); err != nil {
		t.Fatal(err)
	}
	if b, err = format.AppendStr(b, 2, strings.Repeat("u", 300), 1000, "url"); err != nil {
		t.Fatal(err)
	}
	b = append(b, 1, 0, 2, 0, 0, 0, 3)

	d := format.Decoder(b)
	if got := d.Task(); got != task {
		t.Errorf("Task = %q, want %q", got, task)
	}
	if got := d.Task(); got != "" {
		t.Errorf("empty Task = %q", got)
	}
	if got := d.Str(1, 10, "addr"); got != "addr" {
		t.Errorf("Str(1) = %q", got)
	}
	if got := d.Str(2, 1000, "url"); len(got) != 300 {
		t.Errorf("Str(2) has %d bytes, want 300", len(got))
	}
	if !d.Flag("flag") {
		t.Error("Flag = false, want true")
	}
	if got := d.U16(); got != 2 {
		t.Errorf("U16 = %d, want 2", got)
	}
	if got := d.Remaining(); got != 4 {
		t.Errorf("Remaining = %d, want 4", got)
	}
	d.Take(4)
	if n, err := d.Done(); err != nil || n != len(b) {
		t.Errorf("Done = %d, %v; want %d, nil", n, err, len(b))
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		read func(d *codec.Decoder)
		want error
	}{
		{"truncated u32", []byte{1, 2, 3}, func(d *codec.Decoder) { d.U32() }, io.ErrUnexpectedEOF},
		{"string over limit", []byte{5, 'h', 'e', 'l', 'l', 'o'}, func(d *codec.Decoder) { d.Str(1, 4, "s") }, errLimit},
		{"string past end", []byte{0, 9, 'x'}, func(d *codec.Decoder) { d.Str(2, 100, "s") }, io.ErrUnexpectedEOF},
		{"flag not 0 or 1", []byte{2}, func(d *codec.Decoder) { d.Flag("f") }, errMalformed},
		{"count over limit", []byte{0, 0, 0, 9}, func(d *codec.Decoder) { d.Count(4, 0, 8, 1, "items") }, errLimit},
		{"count under minimum", []byte{0, 0}, func(d *codec.Decoder) { d.Count(2, 1, 8, 1, "items") }, errMalformed},
		// A count the remaining bytes cannot hold fails before any
		// allocation it would size.
		{"count past end", []byte{0, 4, 1, 2, 3}, func(d *codec.Decoder) { d.Count(2, 0, 8, 1, "items") }, io.ErrUnexpectedEOF},
		{"negative take", []byte{1}, func(d *codec.Decoder) { d.Take(-1) }, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := format.Decoder(tt.body)
			tt.read(&d)
			if !errors.Is(d.Err(), tt.want) {
				t.Fatalf("Err = %v, want %v", d.Err(), tt.want)
			}
			// The first error sticks and later reads yield zero values.
			d.Fail(errors.New("later"))
			if got := d.U8(); got != 0 || !errors.Is(d.Err(), tt.want) {
				t.Fatalf("after error: U8 = %d, Err = %v", got, d.Err())
			}
			if n, err := d.Done(); n != 0 || err == nil {
				t.Fatalf("Done = %d, %v; want 0 and the error", n, err)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	b := []byte{7}
	if got, err := format.AppendStr(b, 1, strings.Repeat("x", 256), 1000, "s"); !errors.Is(err, errLimit) || !bytes.Equal(got, b) {
		t.Errorf("256 bytes with a 1-byte length: %v, %v", got, err)
	}
	if got, err := format.AppendStr(b, 2, "hello", 4, "s"); !errors.Is(err, errLimit) || !bytes.Equal(got, b) {
		t.Errorf("over limit: %v, %v", got, err)
	}
	if got, err := format.AppendTask(b, "not-a-task"); !errors.Is(err, errMalformed) || !bytes.Equal(got, b) {
		t.Errorf("bad task: %v, %v", got, err)
	}
}

// FuzzDecoder reads a body with every kind of field in an order the input
// chooses: a decoder never panics, never reads past the body and never
// returns more bytes read than it had.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{7, 5, 0, 0, 0, 2, 1, 1})
	f.Add([]byte{6, 6, 6, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		ops, body := b[:min(len(b), 1+int(b[0])%8)], b
		d := format.Decoder(body)
		for _, op := range ops {
			switch op % 10 {
			case 0:
				d.U8()
			case 1:
				d.U16()
			case 2:
				d.U32()
			case 3:
				d.U64()
			case 4:
				d.Task()
			case 5:
				d.Digest()
			case 6:
				if s := d.Str(int(op%2)+1, 64, "s"); len(s) > 64 {
					t.Fatalf("Str returned %d bytes over its limit", len(s))
				}
			case 7:
				if k := d.Count(2+2*int(op%2), 0, 1<<20, 4, "items"); k*4 > len(body) {
					t.Fatalf("Count %d cannot fit in %d bytes", k, len(body))
				}
			case 8:
				d.Flag("f")
			case 9:
				d.Peer()
			}
		}
		n, err := d.Done()
		if err == nil && (n > len(body) || n+d.Remaining() != len(body)) {
			t.Fatalf("Done = %d with %d remaining of %d", n, d.Remaining(), len(body))
		}
	})
}
