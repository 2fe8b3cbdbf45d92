// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wirebench

import (
	"fmt"
	"testing"
)

// The Go benchmarks run the same workloads with both ends in this process,
// b.N transactions (or messages) per run. SPEC's figures come from `pollen
// bench wire`, which adds a server process, pinning and interleaving.

func benchTransports() []Transport { return []Transport{TCP(), Wire(WireOptions{})} }

func BenchmarkRR(b *testing.B) {
	for _, t := range benchTransports() {
		srv, err := Serve(b.Context(), []Transport{t})
		if err != nil {
			b.Fatal(err)
		}
		for _, size := range []int{1, 32, 100, 1000} {
			for _, senders := range []int{1, 200} {
				if senders > 1 && size != 1 && size != 100 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%dB-%dconn", t.Name(), size, senders), func(b *testing.B) {
					cl, err := t.Dial(b.Context(), srv.Addr(t.Name()), senders)
					if err != nil {
						b.Fatal(err)
					}
					defer func() { _ = cl.Close() }()
					b.ReportAllocs()
					b.ResetTimer()
					if err := RoundTrips(b.Context(), cl, size, b.N); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
				})
			}
		}
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStream(b *testing.B) {
	const size = 64 << 10
	for _, t := range benchTransports() {
		srv, err := Serve(b.Context(), []Transport{t})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(t.Name()+"/64KiB", func(b *testing.B) {
			cl, err := t.Dial(b.Context(), srv.Addr(t.Name()), 1)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = cl.Close() }()
			b.ReportAllocs()
			b.SetBytes(HeaderLen + size)
			b.ResetTimer()
			if err := Stream(b.Context(), cl, size, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		})
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
