// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import (
	"io"
	"sync"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
)

// BenchmarkPutWriteTo measures one fetcher putting 4 MiB pieces in order
// while the consumer writes them to io.Discard: the cache's cost per byte
// (one copy in Put, SHA-256 of the stream) and its allocations, which stay
// at the window's buffers however long the stream. "reserve" skips the
// copy: the fetcher fills the cache's buffer in place, as a msg segment
// would.
func BenchmarkPutWriteTo(b *testing.B) {
	const pieceSize = 4 << 20
	for _, mode := range []string{"put", "reserve"} {
		b.Run(mode, func(b *testing.B) {
			piece := payload(pieceSize, 1)
			l := core.Layout{Size: int64(b.N) * pieceSize, PieceSize: pieceSize}
			c, err := New(Config{Layout: l, Window: 8})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			b.SetBytes(pieceSize)
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := core.PieceIndex(0); int(i) < b.N; {
					ch := c.Changed()
					if !c.Accepts(i) {
						<-ch
						continue
					}
					if mode == "put" {
						if err := c.Put(i, piece); err != nil {
							b.Error(err)
							return
						}
					} else {
						buf, err := c.Reserve(i)
						if err != nil {
							b.Error(err)
							return
						}
						buf[0] = byte(i)
						if err := c.Commit(i); err != nil {
							b.Error(err)
							return
						}
					}
					i++
				}
			})
			if n, err := c.WriteTo(io.Discard); err != nil || n != l.Size {
				b.Fatalf("WriteTo = %d, %v", n, err)
			}
			wg.Wait()
		})
	}
}
