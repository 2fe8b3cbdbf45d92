// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package stream

import "github.com/pollen-dev/pollen/internal/core"

// Stats is a snapshot of a [Cache]'s state and counters.
type Stats struct {
	Window   int             // capacity in pieces
	Read     core.PieceIndex // first piece the consumer has not fully read
	Held     int             // pieces present (delivered or not)
	Reserved int             // pieces reserved by fetchers

	Buffers     int    // piece buffers alive: in slots, pinned, or pooled
	PeakBuffers int    // most Buffers ever alive at once
	Allocs      uint64 // piece buffers ever allocated

	DeliveredBytes  int64  // bytes the consumer has read
	DeliveredPieces int    // pieces the consumer has read in full
	Committed       uint64 // pieces added
	Refused         uint64 // Put or Reserve calls refused
	Evicted         uint64 // pieces evicted (each reported once)
	Served          uint64 // Get calls that returned bytes
	Misses          uint64 // Get calls answered with a miss
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Read = core.PieceIndex(c.read)
	for k := range c.slots {
		switch c.slots[k].state {
		case slotPresent:
			st.Held++
		case slotReserved:
			st.Reserved++
		}
	}
	return st
}
