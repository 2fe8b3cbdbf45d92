// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// File names inside a task directory, Dir/tasks/<task id>/.
const (
	tasksDir    = "tasks"
	dataName    = "data"
	journalName = "journal"
	tmpSuffix   = ".tmp"
)

// Config configures a [Store]. The zero value is not usable: Dir is
// required; every other field has a default.
type Config struct {
	// Dir is the directory the store keeps its tasks in. It is created if
	// missing. Required.
	Dir string
	// Quota is the most bytes the store's tasks may hold, counting each
	// task at its full size from creation. Zero means no quota.
	Quota int64
	// ExportByLink makes [Task.Export] hard-link the data file instead of
	// copying it. Linking is instant but the output then shares its inode
	// with the store: writing to the output would corrupt what the daemon
	// seeds (peers would catch it, but it would be wasted work).
	ExportByLink bool
	// FS is the file system. Nil means [OS].
	FS FS
	// Logger receives warnings about what Open repaired or dropped. Nil
	// means discard.
	Logger *slog.Logger
	// Now returns the current time, used for LRU order. Nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.FS == nil {
		c.FS = OS
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports whether c can open a store.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("piece: config: Dir is required")
	case c.Quota < 0:
		return fmt.Errorf("piece: config: negative Quota %d", c.Quota)
	}
	return nil
}

// Meta describes a task to [Store.Create].
type Meta struct {
	// ID names the task; see core.TaskIDForURL and core.TaskIDForDigest.
	ID core.TaskID
	// URL is where the object comes from, for the record.
	URL string
	// Layout is the object's size and piece size.
	Layout core.Layout
	// Digest is the expected whole-file SHA-256; zero if unknown.
	Digest core.Digest
	// PieceDigests are the expected per-piece digests, one per piece, or
	// nil if unknown.
	PieceDigests []core.Digest
}

// Info is a snapshot of one task for listings.
type Info struct {
	ID       core.TaskID
	Size     int64
	Present  int // verified pieces
	Pieces   int
	Complete bool
	Pins     int
	LastUse  time.Time
}

// Store holds tasks under one directory. It is safe for concurrent use.
type Store struct {
	cfg  Config
	fs   FS
	dir  string // cfg.Dir/tasks
	log  *slog.Logger
	mu   sync.Mutex // guards the following fields, and each Task's pins, lastUse and deleted
	all  map[core.TaskID]*Task
	used int64 // sum of task sizes
	shut bool
}

// Open opens the store in cfg.Dir, creating it if needed, and loads the
// tasks it holds. A task whose journal ends in a torn record is truncated
// to its last valid record; a task whose journal has no valid header (a
// crash during creation, or corruption) is removed with a warning.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	st := &Store{
		cfg: cfg,
		fs:  cfg.FS,
		dir: filepath.Join(cfg.Dir, tasksDir),
		log: cfg.Logger,
		all: map[core.TaskID]*Task{},
	}
	if err := st.fs.MkdirAll(st.dir, 0o755); err != nil {
		return nil, diskErr("piece: open store", err)
	}
	entries, err := st.fs.ReadDir(st.dir)
	if err != nil {
		return nil, fmt.Errorf("piece: open store: %w", err)
	}
	for _, e := range entries {
		id, err := core.ParseTaskID(e.Name())
		if err != nil || !e.IsDir() {
			st.log.Warn("piece: ignoring unexpected entry", "name", e.Name())
			continue
		}
		t, err := st.load(id)
		if err != nil {
			_ = st.closeAll() // err is the failure that matters
			return nil, err
		}
		if t == nil {
			continue
		}
		st.all[id] = t
		st.used += t.hdr.layout.Size
	}
	return st, nil
}

// Create creates the task m describes and returns it pinned: call
// [Task.Release] when done with it. If the task exists with the same layout
// and digest, Create returns it (pinned) so that a download resumes; with
// different metadata it fails with [ErrExists]. When the task does not fit
// in the quota, Create first collects garbage and fails with [ErrQuota] if
// that frees too little.
func (st *Store) Create(m Meta) (*Task, error) {
	hdr := &header{id: m.ID, layout: m.Layout, digest: m.Digest, url: m.URL, pieceDigests: m.PieceDigests}
	if err := hdr.validate(); err != nil {
		return nil, fmt.Errorf("piece: create task: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.shut {
		return nil, ErrClosed
	}
	if t, ok := st.all[m.ID]; ok {
		if t.hdr.layout != m.Layout || t.hdr.digest != m.Digest {
			return nil, fmt.Errorf("%w: task %s", ErrExists, m.ID.Short())
		}
		st.pinLocked(t)
		return t, nil
	}
	if q := st.cfg.Quota; q > 0 && st.used+m.Layout.Size > q {
		st.gcLocked(q - m.Layout.Size)
		if st.used+m.Layout.Size > q {
			return nil, fmt.Errorf("%w: task %s needs %d bytes, %d of %d in use by tasks that cannot be collected",
				ErrQuota, m.ID.Short(), m.Layout.Size, st.used, q)
		}
	}
	t, err := st.create(hdr)
	if err != nil {
		return nil, err
	}
	st.all[m.ID] = t
	st.used += m.Layout.Size
	st.pinLocked(t)
	// An empty task is complete at once; so is nothing else.
	if err := t.advanceHashWait(); err != nil {
		return t, err
	}
	return t, nil
}

// create writes a new task's files: the data file at its full (sparse)
// size, then the journal under a temporary name, fsynced, renamed into
// place and made durable by fsyncing the directories. A crash before the
// rename leaves a directory without a journal, which Open removes.
func (st *Store) create(hdr *header) (t *Task, err error) {
	dir := filepath.Join(st.dir, string(hdr.id))
	defer func() {
		if err != nil {
			if rerr := st.fs.RemoveAll(dir); rerr != nil {
				st.log.Warn("piece: cleaning up failed create", "task", hdr.id.Short(), "err", rerr)
			}
			err = diskErr(fmt.Sprintf("piece: create task %s", hdr.id.Short()), err)
		}
	}()
	if err := st.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data, err := st.fs.OpenFile(filepath.Join(dir, dataName), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = data.Close() // err is the failure that matters
		}
	}()
	if err := data.Truncate(hdr.layout.Size); err != nil {
		return nil, err
	}
	jpath := filepath.Join(dir, journalName)
	b := appendRecord(nil, hdr)
	if err := st.writeFileSynced(jpath+tmpSuffix, b); err != nil {
		return nil, err
	}
	if err := st.fs.Rename(jpath+tmpSuffix, jpath); err != nil {
		return nil, err
	}
	if err := st.fs.SyncDir(dir); err != nil {
		return nil, err
	}
	if err := st.fs.SyncDir(st.dir); err != nil {
		return nil, err
	}
	journal, err := st.fs.OpenFile(jpath, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	js := &journalState{hdr: hdr, present: newBitmap(hdr.layout.Pieces()), digests: make([]core.Digest, hdr.layout.Pieces())}
	return newTask(st, dir, data, journal, int64(len(b)), js), nil
}

// writeFileSynced creates name with contents b and fsyncs it.
func (st *Store) writeFileSynced(name string, b []byte) error {
	f, err := st.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// load opens an existing task directory. It returns nil, nil for a task it
// removed because it could not be recovered.
func (st *Store) load(id core.TaskID) (*Task, error) {
	dir := filepath.Join(st.dir, string(id))
	drop := func(reason string, err error) (*Task, error) {
		st.log.Warn("piece: removing unrecoverable task", "task", id.Short(), "reason", reason, "err", err)
		if err := st.fs.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("piece: remove task %s: %w", id.Short(), err)
		}
		return nil, nil
	}
	journal, err := st.fs.OpenFile(filepath.Join(dir, journalName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return drop("no journal (crash during create)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("piece: open task %s: %w", id.Short(), err)
	}
	b, err := io.ReadAll(journal)
	if err != nil {
		_ = journal.Close() // err is the failure that matters
		return nil, fmt.Errorf("piece: read journal of %s: %w", id.Short(), err)
	}
	js, good, jerr := replay(b)
	if js == nil || js.hdr.id != id {
		_ = journal.Close() // err is the failure that matters
		if jerr == nil {
			jerr = fmt.Errorf("%w: header names task %s", ErrCorrupt, js.hdr.id)
		}
		return drop("bad journal header", jerr)
	}
	if good < len(b) {
		st.log.Warn("piece: truncating torn journal tail", "task", id.Short(), "valid", good, "size", len(b), "err", jerr)
		if err := journal.Truncate(int64(good)); err != nil {
			_ = journal.Close() // err is the failure that matters
			return nil, diskErr(fmt.Sprintf("piece: truncate journal of %s", id.Short()), err)
		}
	}
	data, err := st.fs.OpenFile(filepath.Join(dir, dataName), os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = ensureSize(data, js.hdr.layout.Size)
		if err != nil {
			_ = data.Close() // err is the failure that matters
		}
	}
	if err != nil {
		_ = journal.Close() // err is the failure that matters
		return nil, diskErr(fmt.Sprintf("piece: open data of %s", id.Short()), err)
	}
	t := newTask(st, dir, data, journal, int64(good), js)
	if fi, err := journal.Stat(); err == nil {
		t.lastUse, t.touched = fi.ModTime(), fi.ModTime()
	}
	// Catch the whole-file hash up with pieces verified after the last
	// checkpoint; this may complete the task.
	if err := t.advanceHashWait(); err != nil {
		st.log.Warn("piece: task failed verification on load", "task", id.Short(), "err", err)
	}
	return t, nil
}

// ensureSize makes the data file exactly size bytes long (a crash can
// leave it short only if creation never finished, but be strict).
func ensureSize(f File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return f.Truncate(size)
	}
	return nil
}

// Acquire returns the task with id, pinned: it will not be collected or
// deleted until [Task.Release]. It fails with [ErrNotFound] if the store
// does not hold the task.
func (st *Store) Acquire(id core.TaskID) (*Task, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.shut {
		return nil, ErrClosed
	}
	t, ok := st.all[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id.Short())
	}
	st.pinLocked(t)
	return t, nil
}

func (st *Store) pinLocked(t *Task) {
	t.pins++
	t.lastUse = st.cfg.Now()
}

// touchInterval is the least time between two updates of a task's journal
// modification time, the LRU order that survives a restart. A task served
// piece by piece is released a few thousand times a second; one
// utimensat(2) per release cost more than the rest of the bookkeeping. The
// order in memory is exact; on disk it may lag by this much after a crash
// (a clean [Store.Close] writes it).
const touchInterval = time.Second

// unpin drops one pin and records the use, in memory and, at most once per
// touchInterval, as the journal's modification time so that LRU order
// survives a restart.
func (st *Store) unpin(t *Task) {
	st.mu.Lock()
	if t.pins <= 0 {
		st.mu.Unlock()
		panic("piece: Release of a task that is not pinned")
	}
	t.pins--
	now := st.cfg.Now()
	t.lastUse = now
	touch := !t.deleted && !st.shut && touchDue(t.touched, now)
	if touch {
		t.touched = now
	}
	st.mu.Unlock()
	if touch {
		st.touch(t, now)
	}
}

// touchDue reports whether a journal last touched at touched should be
// touched again at now (also when the clock went back).
func touchDue(touched, now time.Time) bool {
	d := now.Sub(touched)
	return d >= touchInterval || d < 0
}

// touch sets the modification time of t's journal to at.
func (st *Store) touch(t *Task, at time.Time) {
	_ = st.fs.Chtimes(filepath.Join(t.dir, journalName), at, at) // best effort: only LRU order
}

// Delete removes the task with id. It fails with [ErrInUse] if the task is
// pinned.
func (st *Store) Delete(id core.TaskID) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	t, ok := st.all[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id.Short())
	}
	if t.pins > 0 {
		return fmt.Errorf("%w: %s has %d pins", ErrInUse, id.Short(), t.pins)
	}
	return st.deleteLocked(t)
}

func (st *Store) deleteLocked(t *Task) error {
	t.deleted = true
	delete(st.all, t.hdr.id)
	st.used -= t.hdr.layout.Size
	_ = t.closeFiles() // the files are being removed
	if err := st.fs.RemoveAll(t.dir); err != nil {
		return fmt.Errorf("piece: delete task %s: %w", t.hdr.id.Short(), err)
	}
	return nil
}

// GC deletes least-recently-used finished tasks that are not pinned until
// the store is within its quota, and returns the bytes freed. Tasks still
// downloading are never collected: they are pinned while in use, and an
// abandoned one is for the daemon to resume or [Store.Delete].
func (st *Store) GC() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cfg.Quota == 0 {
		return 0
	}
	return st.gcLocked(st.cfg.Quota)
}

// gcLocked collects until at most target bytes are used.
func (st *Store) gcLocked(target int64) int64 {
	var victims []*Task
	for _, t := range st.all {
		if t.pins == 0 && t.Complete() {
			victims = append(victims, t)
		}
	}
	slices.SortFunc(victims, func(a, b *Task) int {
		return cmp.Or(a.lastUse.Compare(b.lastUse), cmp.Compare(a.hdr.id, b.hdr.id))
	})
	var freed int64
	for _, t := range victims {
		if st.used <= target {
			break
		}
		st.log.Info("piece: collecting task", "task", t.hdr.id.Short(), "size", t.hdr.layout.Size, "last_use", t.lastUse)
		if err := st.deleteLocked(t); err != nil {
			st.log.Warn("piece: collecting task", "task", t.hdr.id.Short(), "err", err)
		}
		freed += t.hdr.layout.Size
	}
	return freed
}

// Usage returns the bytes the store's tasks hold, each counted at its full
// size.
func (st *Store) Usage() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.used
}

// Tasks returns a snapshot of every task, least recently used first.
func (st *Store) Tasks() []Info {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Info, 0, len(st.all))
	for _, t := range st.all {
		t.mu.Lock()
		out = append(out, Info{
			ID: t.hdr.id, Size: t.hdr.layout.Size, Present: t.present.count(), Pieces: t.hdr.layout.Pieces(),
			Complete: t.complete, Pins: t.pins, LastUse: t.lastUse,
		})
		t.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Info) int { return cmp.Or(a.LastUse.Compare(b.LastUse), cmp.Compare(a.ID, b.ID)) })
	return out
}

// Close closes every task's files. Tasks and sections still held fail with
// [ErrClosed] afterwards. Close is idempotent.
func (st *Store) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closeAll()
}

func (st *Store) closeAll() error {
	st.shut = true
	var errs []error
	for _, t := range st.all {
		if t.lastUse.After(t.touched) { // a use unpin left in memory only
			t.touched = t.lastUse
			st.touch(t, t.lastUse)
		}
		if err := t.closeFiles(); err != nil {
			errs = append(errs, fmt.Errorf("piece: close task %s: %w", t.hdr.id.Short(), err))
		}
	}
	return errors.Join(errs...)
}

// repin adds a pin to a task the caller already holds (a section or an
// export keeps the task alive on its own).
func (st *Store) repin(t *Task) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.shut || t.deleted {
		return ErrClosed
	}
	st.pinLocked(t)
	return nil
}
