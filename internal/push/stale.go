// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// DefaultStaleAge is how long a temporary file must have been left
// untouched before `pollen receive` removes it at start.
const DefaultStaleAge = 10 * time.Minute

// isTempName reports whether a file name is one of the receivers'
// temporary files (see tempName).
func isTempName(name string) bool {
	return strings.HasPrefix(name, tempPrefix) && strings.HasSuffix(name, ".tmp")
}

// RemoveStale removes the temporary files a receiver killed mid-file left
// under [Config.Dir]: regular files named .pollen-push-*.tmp, not modified
// for olderThan, that no receiver holds (each File keeps an advisory lock
// on its temporary file while it lives, so a concurrent receiver's files
// in the same directory stay, however long their transfer waits). Nothing
// else is touched: no other name, no symbolic link, nothing a link points
// to, no directory reached through a link, nothing outside Dir. It returns
// the removed names, relative to Dir; entries it could not inspect or
// remove are reported in the error while the walk goes on.
func (r *Receiver) RemoveStale(olderThan time.Duration) ([]string, error) {
	root, err := os.OpenRoot(r.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("push: remove stale files: %w", err)
	}
	defer func() { _ = root.Close() }()
	cutoff := time.Now().Add(-olderThan)
	var removed []string
	var errs []error
	// fs.WalkDir does not descend into links to directories: a link's
	// entry is not a directory.
	walkErr := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			errs = append(errs, err)
			return nil // a directory that cannot be read is skipped
		case d.IsDir():
			if strings.Count(name, "/") >= MaxDepth {
				return fs.SkipDir // deeper than any pushed name goes
			}
			return nil
		case !d.Type().IsRegular() || !isTempName(d.Name()):
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			return nil
		}
		if info.ModTime().After(cutoff) {
			return nil
		}
		ok, err := removeUnheld(root, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		} else if ok {
			removed = append(removed, name)
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("push: remove stale files: %w", err)
	}
	return removed, nil
}

// removeUnheld removes the regular file name beneath root unless a File
// still holds it, and reports whether it did. It opens name without
// following a link and keeps the lock while it removes it.
func removeUnheld(root *os.Root, name string) (bool, error) {
	f, err := openNoFollow(root, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isLinkErr(err) {
			return false, nil // gone meanwhile, or replaced by a link
		}
		return false, err
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, err
	}
	if held, err := heldElsewhere(f); err != nil || held {
		return false, err
	}
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}
