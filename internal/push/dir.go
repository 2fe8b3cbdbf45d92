// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
)

// errNoLink is a hard link that cannot be made here; the caller copies.
var errNoLink = errors.New("push: no hard link to the source here")

// rootDir is the receive directory, opened once. Every path below it is
// resolved one component at a time and never through a symbolic link.
type rootDir interface {
	// openDir opens the directory named by parts (possibly none: the root
	// itself), creating missing directories with mode.
	openDir(parts []string, mode fs.FileMode) (dirHandle, error)
	close() error
}

// dirHandle is an open directory beneath the root; every name it takes is
// a single component.
type dirHandle interface {
	// createTemp creates a new hidden temporary file, mode 0600, failing
	// rather than opening anything that exists.
	createTemp() (*os.File, string, error)
	// exists reports whether name exists (a link counts; it is not
	// followed).
	exists(name string) (bool, error)
	// place renames tmp to final. Without overwrite it never replaces an
	// existing final ([ErrExists]); with it, it replaces a file or a link
	// (the link itself, not its target) but never a directory.
	place(tmp, final string, overwrite bool) error
	// link makes the file at path src (outside the root, opened by the
	// caller as srcFile) a hidden temporary file of this directory by a
	// hard link and returns its name. It fails with errNoLink where a link
	// cannot be made: another file system, a file system without hard
	// links, or an implementation without the call.
	link(src string, srcFile *os.File) (string, error)
	remove(name string) error
	sync() error
	close() error
}

// tempName returns a fresh temporary file name.
func tempName() string {
	var b [8]byte
	rand.Read(b[:])
	return tempPrefix + hex.EncodeToString(b[:]) + ".tmp"
}
