// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package scheduler

import "math/bits"

// bitset is a set of piece indices, one bit each.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) clear(i int)    { b[i/64] &^= 1 << (i % 64) }

// each calls f for every member of b in increasing order.
func (b bitset) each(f func(i int)) {
	for w, word := range b {
		for word != 0 {
			f(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
}

// keepRange clears every bit outside [lo, hi).
func (b bitset) keepRange(lo, hi int) {
	for w := range b {
		first, last := w*64, w*64+64
		switch {
		case last <= lo || first >= hi:
			b[w] = 0
		default:
			if lo > first {
				b[w] &= ^uint64(0) << (lo - first)
			}
			if hi < last {
				b[w] &= ^uint64(0) >> (last - hi)
			}
		}
	}
}
