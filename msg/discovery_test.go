// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedPackets are valid discovery packets, by corpus file name.
var seedPackets = map[string]discoveryPacket{
	"query":          {Type: discoveryQuery, Nonce: 0x0102030405060708, Name: "scheduler"},
	"query-longname": {Type: discoveryQuery, Nonce: 1, Name: strings.Repeat("n", MaxNameLen)},
	"answer": {
		Type: discoveryAnswer, Nonce: 9, Name: "scheduler", Node: 0x1122334455667788,
		Addrs: []string{"tcp://198.18.0.10:7600", "unix:///run/pollen.sock"},
	},
	"answer-noaddr": {Type: discoveryAnswer, Nonce: 9, Name: "s", Node: 3},
	"answer-max": {
		Type: discoveryAnswer, Nonce: 9, Name: strings.Repeat("é", MaxNameLen/2), Node: 3,
		Addrs: []string{strings.Repeat("a", maxAnswerAddrLen), "b", "", "tcp://0.0.0.0:1"},
	},
}

func TestDiscoveryRoundTrip(t *testing.T) {
	for name, p := range seedPackets {
		b, err := appendDiscovery(nil, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) > maxDiscoveryPacket {
			t.Errorf("%s: %d bytes > %d", name, len(b), maxDiscoveryPacket)
		}
		got, err := parseDiscovery(b)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(p) {
			t.Errorf("%s: parse = %+v, %v; want %+v", name, got, err, p)
		}
		for i := range len(b) {
			if _, err := parseDiscovery(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: %v", name, i, err)
			}
		}
		if _, err := parseDiscovery(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s with a trailing byte: %v", name, err)
		}
	}
	for _, p := range []discoveryPacket{
		{Type: 3, Name: "x"},
		{Type: discoveryQuery, Name: ""},
		{Type: discoveryQuery, Name: "x", Node: 1},
		{Type: discoveryAnswer, Name: "x", Addrs: make([]string, maxAnswerAddrs+1)},
		{Type: discoveryAnswer, Name: "x", Addrs: []string{strings.Repeat("a", maxAnswerAddrLen+1)}},
	} {
		if _, err := appendDiscovery(nil, p); err == nil {
			t.Errorf("appendDiscovery(%+v) = nil error", p)
		}
	}
	bad := func(b []byte) {
		t.Helper()
		if _, err := parseDiscovery(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("parse %q = %v, want ErrMalformed", b, err)
		}
	}
	q, _ := appendDiscovery(nil, seedPackets["query"])
	for i, v := range map[int]byte{0: 'X', 4: 2, 5: 3, 14: 0, 15: 1} {
		b := bytes.Clone(q)
		b[i] = v
		bad(b)
	}
	a, _ := appendDiscovery(nil, seedPackets["answer-noaddr"])
	a[len(a)-1] = maxAnswerAddrs + 1
	bad(a)
}

// FuzzDiscovery: whatever parses re-encodes to the same bytes, every
// prefix of it is io.ErrUnexpectedEOF, and nothing panics.
func FuzzDiscovery(f *testing.F) {
	for _, p := range seedPackets {
		b, _ := appendDiscovery(nil, p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseDiscovery(b)
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is neither truncation nor malformed", err)
			}
			return
		}
		out, err := appendDiscovery(nil, p)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encode: %v\n%x\nwant\n%x", err, out, b)
		}
		for i := range len(b) {
			if _, err := parseDiscovery(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d/%d: %v", i, len(b), err)
			}
		}
	})
}

// TestWriteDiscoveryCorpus writes testdata/fuzz/FuzzDiscovery with
// -rewrite.
func TestWriteDiscoveryCorpus(t *testing.T) {
	if !*rewrite {
		t.Skip("run with -rewrite to write the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDiscovery")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range seedPackets {
		b, err := appendDiscovery(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
		write(name+"-truncated", b[:len(b)-1])
		write(name+"-trailing", append(bytes.Clone(b), 0))
	}
	write("empty", nil)
	write("control-char-name", []byte("PNAM\x01\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01\x07"))
}
