// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// Task is one stored object: a data file written at piece offsets and a
// journal. Get one from [Store.Create] or [Store.Acquire], which pin it, and
// call [Task.Release] once per pin. It is safe for concurrent use; pieces
// may be written concurrently, each by one [PieceWriter].
type Task struct {
	st   *Store
	hdr  *header // immutable after creation
	dir  string
	data File // pread/pwrite only, so goroutines share it
	done chan struct{}
	fail chan struct{} // closed when Err becomes non-nil; see failLocked

	// Guarded by st.mu.
	pins    int
	lastUse time.Time
	touched time.Time // the journal's modification time as last set (zero: never)
	deleted bool

	jmu     sync.Mutex // guards the following fields
	journal File
	jsize   int64 // bytes of valid records; the next record goes here
	jerr    error // once set, the journal may be inconsistent: no more appends

	mu sync.Mutex // guards the following fields
	// present is the verified pieces: served, reported and never
	// rewritten. A piece is present from its verification on, before
	// its record is durable (see commit).
	present  bitmap
	durable  bitmap // pieces whose journal record is on disk; a subset of present
	writing  bitmap // pieces with an open PieceWriter
	digests  []core.Digest
	complete bool
	sum      core.Digest
	failed   error // whole-file digest mismatch
	lost     error // a published piece could not be made durable
	closed   bool

	// Group commit: commits share one fsync of the data file and one
	// journal write and fsync, done by a flusher goroutine. See commit.
	smu     sync.Mutex // guards the following fields
	scond   *sync.Cond // on smu: a batch finished, or the flusher stopped
	batch   *commitBatch
	syncing bool // a flusher goroutine runs
	stopped bool // closeFiles began: no flusher starts any more

	// The running whole-file hash is advanced by one goroutine at a time;
	// a commit that finds it busy leaves the work to it (hashWanted)
	// instead of waiting, so one long catch-up never stalls the others.
	hashWanted atomic.Bool
	teeMu      sync.Mutex                   // guards tees
	tees       map[core.PieceIndex]*teeHash // committed tees not yet used

	hmu    sync.Mutex // guards the following fields: the running whole-file hash
	hash   sha256State
	hashed int // pieces [0, hashed) are in hash
}

// commitBatch is the piece records that one fsync of the data file and one
// of the journal make durable together.
type commitBatch struct {
	recs      []record
	tees      []core.PieceIndex // pieces whose tee was published
	published int               // records of pieces whose writer did not wait (Publish)
	finished  bool
	err       error
}

// sha256State is the running hash: a hash.Hash whose state can be saved
// and restored (crypto/sha256 implements both interfaces).
type sha256State interface {
	io.Writer
	Sum(b []byte) []byte
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(b []byte) error
}

func newSHA256() sha256State { return sha256.New().(sha256State) }

func newTask(st *Store, dir string, data, journal File, jsize int64, js *journalState) *Task {
	n := js.hdr.layout.Pieces()
	t := &Task{
		st: st, hdr: js.hdr, dir: dir, data: data, done: make(chan struct{}), fail: make(chan struct{}),
		journal: journal, jsize: jsize,
		present: js.present, durable: js.present.clone(), writing: newBitmap(n), digests: js.digests,
		complete: js.complete, sum: js.sum,
		hash: newSHA256(), tees: map[core.PieceIndex]*teeHash{},
	}
	t.scond = sync.NewCond(&t.smu)
	if len(js.hashed.state) > 0 && t.hash.UnmarshalBinary(js.hashed.state) == nil {
		t.hashed = int(js.hashed.prefix)
	} else {
		t.hash = newSHA256() // no usable checkpoint: rehash from piece 0
	}
	if t.complete {
		close(t.done)
	}
	return t
}

// ID returns the task's id.
func (t *Task) ID() core.TaskID { return t.hdr.id }

// Meta returns the metadata the task was created with.
func (t *Task) Meta() Meta {
	return Meta{
		ID: t.hdr.id, URL: t.hdr.url, Layout: t.hdr.layout, Digest: t.hdr.digest,
		PieceDigests: append([]core.Digest(nil), t.hdr.pieceDigests...),
	}
}

// Layout returns the task's size and piece size.
func (t *Task) Layout() core.Layout { return t.hdr.layout }

// Release drops a pin taken by [Store.Create] or [Store.Acquire]. Releasing
// more often than pinning panics.
func (t *Task) Release() { t.st.unpin(t) }

// Has reports whether piece i is present: verified, and served from
// then on. It may not be durable yet (see [PieceWriter.Publish]).
func (t *Task) Has(i core.PieceIndex) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hdr.layout.Contains(i) && t.present.has(int(i))
}

// Bitmap returns which pieces are present, indexed by piece.
func (t *Task) Bitmap() []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.present.bools()
}

// Present returns how many pieces are present.
func (t *Task) Present() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.present.count()
}

// durableCount returns how many pieces are durable.
func (t *Task) durableCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.durable.count()
}

// PieceDigest returns the SHA-256 of piece i as verified when it was
// stored, and false if the piece is not present.
func (t *Task) PieceDigest(i core.PieceIndex) (core.Digest, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hdr.layout.Contains(i) || !t.present.has(int(i)) {
		return core.Digest{}, false
	}
	return t.digests[i], true
}

// Complete reports whether every piece is present and the whole-file
// digest is verified.
func (t *Task) Complete() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.complete
}

// Sum returns the whole-file SHA-256, and false before completion.
func (t *Task) Sum() (core.Digest, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sum, t.complete
}

// Done returns a channel closed when the task completes.
func (t *Task) Done() <-chan struct{} { return t.done }

// Failed returns a channel closed when the task fails: when [Task.Err]
// becomes non-nil. A caller that publishes pieces learns there that one
// could not be made durable.
func (t *Task) Failed() <-chan struct{} { return t.fail }

// failLocked closes fail once, when failed or lost is first set. Called
// with mu held.
func (t *Task) failLocked() {
	select {
	case <-t.fail:
	default:
		close(t.fail)
	}
}

// Err returns the task's terminal error: a [*DigestMismatchError] for the
// whole file if every piece arrived but the result did not match the
// expected digest (such a task never completes; delete it), or the error
// that kept a piece published with [PieceWriter.Publish] from becoming
// durable (wrapping [ErrDiskFull] for a full disk; the piece is absent
// again, and the task takes no more records until the store is reopened
// if the journal's fsync failed).
func (t *Task) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil {
		return t.failed
	}
	return t.lost
}

// expected returns the digests piece i must match: want if given, and the
// one from the task's metadata (a manifest) if it has them. Zero digests
// are unknown.
func (t *Task) expected(i core.PieceIndex, want core.Digest) [2]core.Digest {
	var meta core.Digest
	if len(t.hdr.pieceDigests) > 0 {
		meta = t.hdr.pieceDigests[i]
	}
	return [2]core.Digest{want, meta}
}

// commit makes a verified piece present and durable. The piece is present
// (served, and reported by the caller) at once, from the page cache; its
// record joins the open batch, which a flusher goroutine makes durable:
// fsync the data, append and fsync the journal records, then mark the
// pieces durable and advance the whole-file hash. The order is the crash
// safety argument: a record is durable only after the bytes it vouches
// for, so a crash loses at most pieces that were present but not yet
// durable; they are absent after a restart and fetched again. Peers that
// took such a piece in the meantime verified it themselves.
//
// Commits that arrive while a batch is being flushed wait in the next one
// (group commit): one fsync of the data file and one journal write and
// fsync for all of them. If wait is set, commit returns once its batch is
// durable, with the batch's error; otherwise it returns at once and a
// failed batch fails the task ([Task.Err]). Either way a failed batch makes
// its pieces absent again: after a failed fsync the page cache may no
// longer hold what was verified. tee, if not nil, is the running hash
// continued over this piece.
func (t *Task) commit(i core.PieceIndex, d core.Digest, tee *teeHash, wait bool) error {
	if tee != nil {
		// Published before the durable bit: whoever advances the hash
		// over i then finds it.
		t.teeMu.Lock()
		t.tees[tee.index] = tee
		t.teeMu.Unlock()
	}
	t.mu.Lock()
	t.present.set(int(i))
	t.digests[i] = d
	t.mu.Unlock()

	t.smu.Lock()
	if t.stopped {
		t.smu.Unlock()
		t.unpublish([]record{pieceRecord{index: i}}, []core.PieceIndex{i})
		return ErrClosed
	}
	b := t.batch
	if b == nil {
		b = &commitBatch{}
		t.batch = b
	}
	b.recs = append(b.recs, pieceRecord{index: i, digest: d})
	if tee != nil {
		b.tees = append(b.tees, i)
	}
	if !wait {
		b.published++
	}
	if !t.syncing {
		t.syncing = true
		go t.flushLoop()
	}
	if !wait {
		t.smu.Unlock()
		return nil
	}
	for !b.finished {
		t.scond.Wait()
	}
	err := b.err
	t.smu.Unlock()
	return err
}

// flushLoop flushes open batches until none is left. One runs at a time
// (syncing); Sync and closeFiles wait for it (waitFlushed).
func (t *Task) flushLoop() {
	t.smu.Lock()
	for t.batch != nil {
		b := t.batch
		t.batch = nil
		t.smu.Unlock()
		err := t.flushBatch(b)
		t.smu.Lock()
		b.finished, b.err = true, err
		t.scond.Broadcast()
	}
	t.syncing = false
	t.scond.Broadcast()
	t.smu.Unlock()
}

// flushBatch makes b's pieces durable and advances the whole-file hash
// over them. A failure that nobody waits for (pieces published without
// waiting) becomes the task's error.
func (t *Task) flushBatch(b *commitBatch) error {
	err := t.flush(b.recs)
	if err != nil {
		t.unpublish(b.recs, b.tees)
	} else {
		t.mu.Lock()
		for _, r := range b.recs {
			t.durable.set(int(r.(pieceRecord).index))
		}
		t.mu.Unlock()
		err = t.advanceHash()
	}
	if err != nil && b.published > 0 {
		t.mu.Lock()
		if t.lost == nil {
			t.lost = fmt.Errorf("piece: make %d verified pieces of %s durable: %w", len(b.recs), t.hdr.id.Short(), err)
			t.failLocked()
		}
		t.mu.Unlock()
	}
	return err
}

// unpublish makes the pieces of recs absent again and drops their tees.
func (t *Task) unpublish(recs []record, tees []core.PieceIndex) {
	t.mu.Lock()
	for _, r := range recs {
		i := r.(pieceRecord).index
		if !t.durable.has(int(i)) {
			t.present.clear(int(i))
			t.digests[i] = core.Digest{}
		}
	}
	t.mu.Unlock()
	t.teeMu.Lock()
	for _, i := range tees {
		delete(t.tees, i)
	}
	t.teeMu.Unlock()
}

// Sync waits until every piece committed so far is durable (or its batch
// failed) and returns the task's error, as [Task.Err] does. A piece
// published with [PieceWriter.Publish] is present before it is durable;
// Sync is how a caller learns that it is on disk.
func (t *Task) Sync() error {
	t.smu.Lock()
	t.waitFlushedLocked()
	t.smu.Unlock()
	return t.Err()
}

// waitFlushedLocked waits until no flusher runs. Called with smu held.
func (t *Task) waitFlushedLocked() {
	for t.syncing {
		t.scond.Wait()
	}
}

// flush makes the pieces recs vouch for durable, then the records.
func (t *Task) flush(recs []record) error {
	if err := t.data.Sync(); err != nil {
		return diskErr(fmt.Sprintf("piece: sync data of %s", t.hdr.id.Short()), err)
	}
	return t.appendJournal(true, recs...)
}

// appendJournal appends records at the end of the valid journal, with one
// write, and fsyncs if sync is set. A failed write is truncated away so the
// next record follows the last valid one. A failed fsync leaves the page
// cache in an unknown state, so it stops all further appends: the task
// fails until the store is reopened and replays what reached the disk.
func (t *Task) appendJournal(sync bool, recs ...record) error {
	t.jmu.Lock()
	defer t.jmu.Unlock()
	if t.jerr != nil {
		return t.jerr
	}
	var b []byte
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	op := fmt.Sprintf("piece: append journal of %s", t.hdr.id.Short())
	if _, err := t.journal.WriteAt(b, t.jsize); err != nil {
		if terr := t.journal.Truncate(t.jsize); terr != nil {
			t.jerr = diskErr(op, terr)
		}
		return diskErr(op, err)
	}
	if sync {
		if err := t.journal.Sync(); err != nil {
			t.jerr = diskErr(op, err)
			return t.jerr
		}
	}
	t.jsize += int64(len(b))
	return nil
}

// wholeHash reports whether the task keeps a running whole-file hash: only
// when a whole-file digest is expected, since the hash costs a second
// SHA-256 pass over every byte.
func (t *Task) wholeHash() bool { return !t.hdr.digest.IsZero() }

// teeHash is the running whole-file hash continued over the bytes of piece
// index as they were written, so that the piece at the head of the prefix
// is hashed without reading it back.
type teeHash struct {
	index core.PieceIndex
	h     sha256State
}

// startTee returns a tee for piece i if i is the next piece the whole-file
// hash needs, nil otherwise (also when the hash is busy advancing: the
// piece is then read back later rather than the writer waiting). While i
// is being written it cannot become present by another path (the writing
// bit excludes other writers), so the hash cannot move past i before this
// writer commits.
func (t *Task) startTee(i core.PieceIndex) *teeHash {
	if !t.wholeHash() || !t.hmu.TryLock() {
		return nil
	}
	defer t.unlockHash()
	if t.hashed != int(i) {
		return nil
	}
	state, err := t.hash.MarshalBinary()
	if err != nil {
		return nil
	}
	h := newSHA256()
	if h.UnmarshalBinary(state) != nil {
		return nil
	}
	return &teeHash{index: i, h: h}
}

// advanceHash extends the whole-file hash over the contiguous durable
// prefix, checkpoints it in the journal, and completes the task when the
// prefix covers every piece. Pieces that arrived out of order are read back
// from the data file once (usually from the page cache); the piece a tee
// covers is not read at all.
//
// If another goroutine is advancing the hash, advanceHash hands the work
// over to it and returns at once: that goroutine (the flusher, or a caller
// of advanceHashWait) loops until nothing is left, so when every batch has
// been flushed the hash has caught up.
//
// Without an expected whole-file digest there is no running hash (every
// piece was verified on its own or came from the trusted origin): the task
// completes, with a zero sum, when every piece is durable.
func (t *Task) advanceHash() error {
	t.hashWanted.Store(true)
	for t.hashWanted.Load() {
		if !t.hmu.TryLock() {
			return nil // the holder sees hashWanted after it unlocks
		}
		t.hashWanted.Store(false)
		err := t.advanceLocked()
		t.hmu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// advanceHashWait is advanceHash for callers that need the outcome: it
// waits for a running advance and then catches up itself.
func (t *Task) advanceHashWait() error {
	t.hmu.Lock()
	err := t.advanceLocked()
	t.unlockHash()
	return err
}

// unlockHash releases hmu taken outside advanceHash's loop and then does
// the work a commit may have handed over meanwhile: a commit that failed
// to take hmu relies on its holder to see hashWanted.
func (t *Task) unlockHash() {
	t.hmu.Unlock()
	if t.hashWanted.Load() {
		_ = t.advanceHash() // a failure is the task's (Err) or the next commit's
	}
}

// advanceLocked does advanceHash's work with hmu held.
func (t *Task) advanceLocked() error {
	n := t.hdr.layout.Pieces()
	if !t.wholeHash() {
		t.mu.Lock()
		all := t.durable.count() == n
		t.mu.Unlock()
		if !all {
			return nil
		}
		return t.finish(core.Digest{})
	}
	start := t.hashed
	var buf []byte
	for t.hashed < n {
		i := core.PieceIndex(t.hashed)
		t.mu.Lock()
		ok := t.durable.has(t.hashed)
		t.mu.Unlock()
		if !ok {
			break
		}
		t.teeMu.Lock()
		tee := t.tees[i]
		delete(t.tees, i)
		t.teeMu.Unlock()
		if tee != nil {
			t.hash = tee.h
		} else {
			r := t.hdr.layout.Piece(i)
			if buf == nil {
				buf = make([]byte, min(t.hdr.layout.PieceSize, 1<<20))
			}
			if err := copyRange(t.hash, t.data, r, buf); err != nil {
				return fmt.Errorf("piece: hash piece %d of %s: %w", i, t.hdr.id.Short(), err)
			}
		}
		t.hashed++
	}
	if t.hashed < n {
		if t.hashed == start {
			return nil
		}
		state, err := t.hash.MarshalBinary()
		if err != nil || len(state) > maxHashState {
			return nil // no checkpoint: a restart rehashes, nothing is lost
		}
		// Not fsynced: a lost checkpoint only costs rehashing on restart,
		// and the next piece record's fsync makes it durable anyway.
		return t.appendJournal(false, hashRecord{prefix: uint32(t.hashed), state: state})
	}
	var sum core.Digest
	t.hash.Sum(sum[:0])
	return t.finish(sum)
}

// finish completes the task with whole-file digest sum, or fails it if sum
// is not the expected digest. Called with hmu held, once.
func (t *Task) finish(sum core.Digest) error {
	t.mu.Lock()
	if t.complete || t.failed != nil {
		t.mu.Unlock()
		return t.failed
	}
	t.mu.Unlock()
	if want := t.hdr.digest; !want.IsZero() && want != sum {
		err := &DigestMismatchError{Task: t.hdr.id, Piece: WholeFile, Want: want, Got: sum}
		t.mu.Lock()
		t.failed = err
		t.failLocked()
		t.mu.Unlock()
		return err
	}
	if err := t.appendJournal(true, completeRecord{digest: sum}); err != nil {
		return err
	}
	t.mu.Lock()
	t.complete, t.sum = true, sum
	t.mu.Unlock()
	close(t.done)
	return nil
}

// copyRange writes the bytes of r in f to w through buf.
func copyRange(w io.Writer, f io.ReaderAt, r core.Range, buf []byte) error {
	_, err := io.CopyBuffer(w, io.NewSectionReader(f, r.Off, r.Len), buf)
	return err
}

// closeFiles closes the task's files; later operations fail with ErrClosed.
// It first waits for the flusher, so pieces committed before it are
// durable (or their batch failed). Every record was fsynced when appended,
// so a close error loses nothing that was promised; it is reported all the
// same.
func (t *Task) closeFiles() error {
	t.mu.Lock()
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	if already {
		return nil
	}
	t.smu.Lock()
	t.stopped = true
	t.waitFlushedLocked()
	t.smu.Unlock()
	t.jmu.Lock()
	jerr := t.journal.Close()
	t.jerr = ErrClosed
	t.jmu.Unlock()
	return errors.Join(jerr, t.data.Close())
}
