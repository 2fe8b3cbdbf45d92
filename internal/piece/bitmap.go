// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import "math/bits"

// bitmap is a fixed-size set of piece indexes. It is not safe for
// concurrent use; its owner guards it.
type bitmap struct {
	words []uint64
	n     int
}

func newBitmap(n int) bitmap { return bitmap{words: make([]uint64, (n+63)/64), n: n} }

func (b *bitmap) set(i int)      { b.words[i/64] |= 1 << (i % 64) }
func (b *bitmap) has(i int) bool { return b.words[i/64]&(1<<(i%64)) != 0 }

// count returns the number of members.
func (b *bitmap) count() int {
	c := 0
	for _, w := range b.words {
		c += bits.OnesCount64(w)
	}
	return c
}

// prefix returns the length of the run of members starting at 0.
func (b *bitmap) prefix() int {
	for wi, w := range b.words {
		if w != ^uint64(0) {
			return min(wi*64+bits.TrailingZeros64(^w), b.n)
		}
	}
	return b.n
}

// bools returns the members as a slice indexed by piece.
func (b *bitmap) bools() []bool {
	out := make([]bool, b.n)
	for i := range out {
		out[i] = b.has(i)
	}
	return out
}

func (b *bitmap) clear(i int) { b.words[i/64] &^= 1 << (i % 64) }

// clone returns a copy of b that shares no memory with it.
func (b *bitmap) clone() bitmap {
	return bitmap{words: append([]uint64(nil), b.words...), n: b.n}
}
