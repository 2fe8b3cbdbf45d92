// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/pollen-dev/pollen/internal/push"
)

// fuzzDecode is the check every fuzz target runs: whatever Decode accepts
// must be of the target's type, report a Len equal to its size, and
// re-encode to exactly the same bytes; every proper prefix of it must
// fail with io.ErrUnexpectedEOF; nothing may panic.
func fuzzDecode(t *testing.T, b []byte) {
	m, err := push.Decode(b)
	if err != nil {
		if m != nil {
			t.Fatalf("error %v with message %v", err, m)
		}
		return
	}
	if m.Len() != len(b) {
		t.Fatalf("%v: Len() = %d, decoded %d bytes", m.Type(), m.Len(), len(b))
	}
	out, err := m.Append(nil)
	if err != nil {
		t.Fatalf("%v: re-encode: %v", m.Type(), err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("%v: re-encoded\n% x\nwant\n% x", m.Type(), out, b)
	}
	for k := range len(b) {
		if _, err := push.Decode(b[:k]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%v cut at %d of %d: %v", m.Type(), k, len(b), err)
		}
	}
}

// FuzzOffer fuzzes the decoder from offers; the committed corpus in
// testdata/fuzz/FuzzOffer has one seed per sample in codec_test.go
// (rewrite it with go test -run TestCorpus -update-corpus).
func FuzzOffer(f *testing.F) {
	f.Add([]byte{})                                   // empty
	f.Add([]byte{push.Version, byte(push.TypeOffer)}) // header only
	f.Add([]byte{0, byte(push.TypeOffer)})            // wrong version
	f.Fuzz(fuzzDecode)
}

// FuzzResult fuzzes the decoder from results; corpus in
// testdata/fuzz/FuzzResult.
func FuzzResult(f *testing.F) {
	f.Add([]byte{push.Version, byte(push.TypeResult)}) // header only
	f.Add([]byte{push.Version, 0xff})                  // unknown type
	f.Fuzz(fuzzDecode)
}

// FuzzAwait fuzzes the decoder from awaits; corpus in
// testdata/fuzz/FuzzAwait.
func FuzzAwait(f *testing.F) {
	f.Add([]byte{push.Version, byte(push.TypeAwait)}) // header only
	f.Fuzz(fuzzDecode)
}
