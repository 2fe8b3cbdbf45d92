// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piecetest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/piece"
)

// osCreate is os.O_CREATE, named for the flag checks.
const osCreate = os.O_CREATE

// LogFS wraps an FS and records every operation that changes the file
// system or its durability, one line each, with paths relative to a root
// so that a trace is the same in every temporary directory. Reads are not
// recorded.
type LogFS struct {
	fs   piece.FS
	root string
	mu   sync.Mutex // guards the following fields
	ops  []string
}

// NewLogFS returns a LogFS over fsys that logs paths relative to root.
func NewLogFS(fsys piece.FS, root string) *LogFS { return &LogFS{fs: fsys, root: root} }

// Ops returns the operations recorded so far.
func (l *LogFS) Ops() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ops...)
}

// Reset forgets the operations recorded so far.
func (l *LogFS) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = nil
}

func (l *LogFS) rel(name string) string {
	if r, err := filepath.Rel(l.root, name); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(name)
}

func (l *LogFS) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, fmt.Sprintf(format, args...))
}

// flagString spells the open flags the store uses.
func flagString(flag int) string {
	var parts []string
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		parts = append(parts, "rdonly")
	case os.O_WRONLY:
		parts = append(parts, "wronly")
	case os.O_RDWR:
		parts = append(parts, "rdwr")
	}
	for _, f := range []struct {
		bit  int
		name string
	}{{os.O_CREATE, "create"}, {os.O_EXCL, "excl"}, {os.O_TRUNC, "trunc"}, {os.O_APPEND, "append"}} {
		if flag&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

// OpenFile implements piece.FS.
func (l *LogFS) OpenFile(name string, flag int, perm fs.FileMode) (piece.File, error) {
	f, err := l.fs.OpenFile(name, flag, perm)
	l.logf("open %s %s%s", l.rel(name), flagString(flag), errSuffix(err))
	if err != nil {
		return nil, err
	}
	return &logFile{File: f, l: l, name: l.rel(name)}, nil
}

// Rename implements piece.FS.
func (l *LogFS) Rename(oldname, newname string) error {
	err := l.fs.Rename(oldname, newname)
	l.logf("rename %s %s%s", l.rel(oldname), l.rel(newname), errSuffix(err))
	return err
}

// Link implements piece.FS.
func (l *LogFS) Link(oldname, newname string) error {
	err := l.fs.Link(oldname, newname)
	l.logf("link %s %s%s", l.rel(oldname), l.rel(newname), errSuffix(err))
	return err
}

// Remove implements piece.FS.
func (l *LogFS) Remove(name string) error {
	err := l.fs.Remove(name)
	l.logf("remove %s%s", l.rel(name), errSuffix(err))
	return err
}

// RemoveAll implements piece.FS.
func (l *LogFS) RemoveAll(name string) error {
	err := l.fs.RemoveAll(name)
	l.logf("removeall %s%s", l.rel(name), errSuffix(err))
	return err
}

// MkdirAll implements piece.FS.
func (l *LogFS) MkdirAll(name string, perm fs.FileMode) error {
	err := l.fs.MkdirAll(name, perm)
	l.logf("mkdirall %s%s", l.rel(name), errSuffix(err))
	return err
}

// ReadDir implements piece.FS.
func (l *LogFS) ReadDir(name string) ([]fs.DirEntry, error) { return l.fs.ReadDir(name) }

// Chtimes implements piece.FS.
func (l *LogFS) Chtimes(name string, atime, mtime time.Time) error {
	err := l.fs.Chtimes(name, atime, mtime)
	l.logf("chtimes %s%s", l.rel(name), errSuffix(err))
	return err
}

// SyncDir implements piece.FS.
func (l *LogFS) SyncDir(name string) error {
	err := l.fs.SyncDir(name)
	l.logf("syncdir %s%s", l.rel(name), errSuffix(err))
	return err
}

func errSuffix(err error) string {
	if err != nil {
		return " err=" + err.Error()
	}
	return ""
}

type logFile struct {
	piece.File
	l    *LogFS
	name string
}

func (f *logFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.l.logf("write %s n=%d%s", f.name, n, errSuffix(err))
	return n, err
}

func (f *logFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.l.logf("writeat %s off=%d n=%d%s", f.name, off, n, errSuffix(err))
	return n, err
}

func (f *logFile) Sync() error {
	err := f.File.Sync()
	f.l.logf("sync %s%s", f.name, errSuffix(err))
	return err
}

func (f *logFile) Truncate(size int64) error {
	err := f.File.Truncate(size)
	f.l.logf("truncate %s %d%s", f.name, size, errSuffix(err))
	return err
}

func (f *logFile) Close() error {
	err := f.File.Close()
	f.l.logf("close %s%s", f.name, errSuffix(err))
	return err
}
