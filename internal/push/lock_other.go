// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package push

import (
	"io/fs"
	"os"
)

// holdTemp does nothing where flock is missing: RemoveStale relies on the
// age of a file alone there.
func holdTemp(*os.File) error { return nil }

// heldElsewhere reports no holder where flock is missing.
func heldElsewhere(*os.File) (bool, error) { return false, nil }

// openNoFollow opens name beneath root after checking it is no link (a
// narrow race remains without O_NOFOLLOW; root keeps it inside the
// directory).
func openNoFollow(root *os.Root, name string) (*os.File, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errLink
	}
	return root.Open(name)
}

var errLink = &fs.PathError{Op: "open", Err: fs.ErrInvalid}

// isLinkErr reports the error openNoFollow gives for a link.
func isLinkErr(err error) bool { return err == errLink } //nolint:errorlint // the sentinel itself
