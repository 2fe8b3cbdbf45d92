// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Parse. Whatever it accepts must
// re-encode to exactly the bytes it consumed, and must report a Len equal
// to that; nothing may panic. The committed corpus in
// testdata/fuzz/FuzzDecode has one valid encoding of every message type
// (regenerate it with go test -run TestWriteCorpus -update-corpus).
func FuzzDecode(f *testing.F) {
	// Hand-written seeds for the edges the corpus files do not show.
	f.Add([]byte{})                          // empty
	f.Add([]byte{Version, byte(TypeAck)})    // smallest valid message
	f.Add([]byte{Version, byte(TypeAck), 0}) // trailing byte
	f.Add([]byte{0, byte(TypeAck)})          // wrong version
	f.Add([]byte{Version, 0xff})             // unknown type
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := Parse(b)
		if err != nil {
			if m != nil || n != 0 {
				t.Fatalf("error %v with message %v and n %d", err, m, n)
			}
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if m.Len() != n {
			t.Fatalf("%v: Len() = %d, consumed %d", m.Type(), m.Len(), n)
		}
		out, err := m.Append(nil)
		if err != nil {
			t.Fatalf("%v: re-encode: %v", m.Type(), err)
		}
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("%v: re-encoded\n% x\nwant\n% x", m.Type(), out, b[:n])
		}
		if _, err := Decode(b[:n]); err != nil {
			t.Fatalf("Decode of accepted prefix: %v", err)
		}
	})
}
