// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

// ringEntries is the number of a session's request entries kept without a
// map: consecutive sequence numbers up to this many apart (a sender with
// fewer Sends outstanding) never share a slot.
const ringEntries = 64

// An entryTable is a session's request table (inPeer.entries): the
// receiver's entries by sequence number. A sequence number goes to its
// slot of a small ring (seq mod ringEntries) when that slot is free, else
// to a map, so a session whose requests are few and close together, the
// common case, looks them up, adds and forgets them without map
// operations, and any other pattern of sequence numbers still works.
// Its size is bounded by the session's limits (running requests, the
// reply cache), not by the table.
type entryTable struct {
	ring [ringEntries]ringEntry
	over map[uint64]entry // entries whose slot was taken; nil while empty
	n    int              // entries in the table
}

// A ringEntry is one slot of an entryTable's ring.
type ringEntry struct {
	seq  uint64
	used bool
	e    entry
}

func (t *entryTable) len() int { return t.n }

// get returns the entry of seq.
func (t *entryTable) get(seq uint64) (entry, bool) {
	if r := &t.ring[seq%ringEntries]; r.used && r.seq == seq {
		return r.e, true
	}
	if t.over == nil {
		return entry{}, false
	}
	e, ok := t.over[seq]
	return e, ok
}

// set adds or updates the entry of seq.
func (t *entryTable) set(seq uint64, e entry) {
	r := &t.ring[seq%ringEntries]
	switch {
	case r.used && r.seq == seq:
		r.e = e
		return
	case !r.used:
		if _, ok := t.over[seq]; !ok { // the ring takes no entry the map has
			*r = ringEntry{seq: seq, used: true, e: e}
			t.n++
			return
		}
	}
	if t.over == nil {
		t.over = map[uint64]entry{}
	}
	if _, ok := t.over[seq]; !ok {
		t.n++
	}
	t.over[seq] = e
}

// remove forgets the entry of seq, if any.
func (t *entryTable) remove(seq uint64) {
	if r := &t.ring[seq%ringEntries]; r.used && r.seq == seq {
		*r = ringEntry{}
		t.n--
		return
	}
	if _, ok := t.over[seq]; ok {
		delete(t.over, seq)
		t.n--
		if len(t.over) == 0 {
			t.over = nil
		}
	}
}

// below returns the sequence numbers of the entries below seq, appended to
// s.
func (t *entryTable) below(s []uint64, seq uint64) []uint64 {
	for i := range t.ring {
		if r := &t.ring[i]; r.used && r.seq < seq {
			s = append(s, r.seq)
		}
	}
	for k := range t.over {
		if k < seq {
			s = append(s, k)
		}
	}
	return s
}
