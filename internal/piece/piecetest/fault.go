// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piecetest

import (
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/piece"
)

// Op names a file system operation a [Rule] can fail.
type Op string

// The operations FaultFS can fail.
const (
	OpOpen     Op = "open"
	OpCreate   Op = "create" // an open with os.O_CREATE
	OpWrite    Op = "write"  // Write and WriteAt
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpRename   Op = "rename"
	OpLink     Op = "link"
	OpRemove   Op = "remove" // Remove and RemoveAll
	OpMkdir    Op = "mkdir"
	OpSyncDir  Op = "syncdir"
)

// Rule fails matching operations with Err.
type Rule struct {
	// Op is the operation to fail.
	Op Op
	// Path, if not empty, must be a substring of the operation's path (for
	// a rename or link, of either path).
	Path string
	// After lets this many matching operations succeed first.
	After int
	// Times is how many matching operations fail; zero means all of them.
	Times int
	// Err is the error returned, such as syscall.ENOSPC.
	Err error
	// Short makes a failing write write half its bytes before failing,
	// as a disk filling up mid-write does.
	Short bool

	seen, failed int
}

// FaultFS wraps an FS and fails operations that match its rules.
type FaultFS struct {
	fs    piece.FS
	mu    sync.Mutex // guards the following fields
	rules []*Rule
}

// NewFaultFS returns a FaultFS over fsys with no rules.
func NewFaultFS(fsys piece.FS) *FaultFS { return &FaultFS{fs: fsys} }

// Add adds a rule.
func (f *FaultFS) Add(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &r)
}

// Reset removes every rule.
func (f *FaultFS) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// check returns the rule that fails this operation, or nil.
func (f *FaultFS) check(op Op, paths ...string) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.Op != op || !matches(r.Path, paths) {
			continue
		}
		r.seen++
		if r.seen <= r.After || (r.Times > 0 && r.failed >= r.Times) {
			continue
		}
		r.failed++
		return r
	}
	return nil
}

func matches(sub string, paths []string) bool {
	if sub == "" {
		return true
	}
	for _, p := range paths {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func (f *FaultFS) fail(op Op, paths ...string) error {
	if r := f.check(op, paths...); r != nil {
		return &fs.PathError{Op: string(op), Path: paths[0], Err: r.Err}
	}
	return nil
}

// OpenFile implements piece.FS.
func (f *FaultFS) OpenFile(name string, flag int, perm fs.FileMode) (piece.File, error) {
	op := OpOpen
	if flag&osCreate != 0 {
		op = OpCreate
	}
	if err := f.fail(op, name); err != nil {
		return nil, err
	}
	file, err := f.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Rename implements piece.FS.
func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.fail(OpRename, oldname, newname); err != nil {
		return err
	}
	return f.fs.Rename(oldname, newname)
}

// Link implements piece.FS.
func (f *FaultFS) Link(oldname, newname string) error {
	if err := f.fail(OpLink, oldname, newname); err != nil {
		return err
	}
	return f.fs.Link(oldname, newname)
}

// Remove implements piece.FS.
func (f *FaultFS) Remove(name string) error {
	if err := f.fail(OpRemove, name); err != nil {
		return err
	}
	return f.fs.Remove(name)
}

// RemoveAll implements piece.FS.
func (f *FaultFS) RemoveAll(name string) error {
	if err := f.fail(OpRemove, name); err != nil {
		return err
	}
	return f.fs.RemoveAll(name)
}

// MkdirAll implements piece.FS.
func (f *FaultFS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.fail(OpMkdir, name); err != nil {
		return err
	}
	return f.fs.MkdirAll(name, perm)
}

// ReadDir implements piece.FS.
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error) { return f.fs.ReadDir(name) }

// Chtimes implements piece.FS.
func (f *FaultFS) Chtimes(name string, atime, mtime time.Time) error {
	return f.fs.Chtimes(name, atime, mtime)
}

// SyncDir implements piece.FS.
func (f *FaultFS) SyncDir(name string) error {
	if err := f.fail(OpSyncDir, name); err != nil {
		return err
	}
	return f.fs.SyncDir(name)
}

type faultFile struct {
	piece.File
	fs   *FaultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if r := f.fs.check(OpWrite, f.name); r != nil {
		n := 0
		if r.Short {
			n, _ = f.File.Write(p[:len(p)/2])
		}
		return n, &fs.PathError{Op: "write", Path: f.name, Err: r.Err}
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if r := f.fs.check(OpWrite, f.name); r != nil {
		n := 0
		if r.Short {
			n, _ = f.File.WriteAt(p[:len(p)/2], off)
		}
		return n, &fs.PathError{Op: "write", Path: f.name, Err: r.Err}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail(OpSync, f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.fail(OpTruncate, f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
