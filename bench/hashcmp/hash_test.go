// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package hashcmp

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"testing"

	"lukechampine.com/blake3"
)

// BenchmarkPieceDigest hashes one piece per operation, with a hash.Hash
// reused across pieces as the piece writer would, fed in 64 KiB writes as
// the bytes arrive from a socket.
func BenchmarkPieceDigest(b *testing.B) {
	hashes := []struct {
		name string
		new  func() hash.Hash
	}{
		{"sha256", sha256.New},
		{"blake3", func() hash.Hash { return blake3.New(32, nil) }},
	}
	for _, size := range []int{256 << 10, 4 << 20} {
		piece := make([]byte, size)
		for i := range piece {
			piece[i] = byte(i * 7)
		}
		for _, h := range hashes {
			b.Run(fmt.Sprintf("%s/%dKiB", h.name, size>>10), func(b *testing.B) {
				d := h.new()
				sum := make([]byte, 0, 32)
				b.SetBytes(int64(size))
				for b.Loop() {
					d.Reset()
					for off := 0; off < size; off += 64 << 10 {
						d.Write(piece[off:min(off+64<<10, size)])
					}
					sum = d.Sum(sum[:0])
				}
				if len(sum) != 32 {
					b.Fatalf("%d-byte digest", len(sum))
				}
			})
		}
	}
}
