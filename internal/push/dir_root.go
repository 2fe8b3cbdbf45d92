// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// osRoot implements rootDir with [os.Root], which keeps every operation
// beneath the directory even if links are planted or swapped meanwhile.
// On top of that it refuses links inside the root: each component is
// checked with Lstat, and os.Root stops any that appears after the check
// from leading outside.
type osRoot struct{ r *os.Root }

func openOSRoot(dir string) (rootDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("push: open %s: %w", dir, err)
	}
	return &osRoot{r: r}, nil
}

func (o *osRoot) openDir(parts []string, mode fs.FileMode) (dirHandle, error) {
	for k := range parts {
		p := path.Join(parts[:k+1]...)
		if err := o.r.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, rootErr("mkdir", p, err)
		}
		fi, err := o.r.Lstat(p)
		if err != nil {
			return nil, rootErr("lstat", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &NameError{Name: strings.Join(parts, "/"), Reason: "symbolic link at " + p}
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory", ErrExists, p)
		}
	}
	sub, err := o.r.OpenRoot(path.Join(append([]string{"."}, parts...)...))
	if err != nil {
		return nil, rootErr("open", path.Join(parts...), err)
	}
	return &osDir{r: sub}, nil
}

func (o *osRoot) close() error { return o.r.Close() }

// rootErr maps an os.Root error: an escape attempt is a bad name.
func rootErr(op, p string, err error) error {
	if strings.Contains(err.Error(), "escapes from parent") || strings.Contains(err.Error(), "path escapes") {
		return &NameError{Name: p, Reason: "escapes the directory"}
	}
	return diskErr(op+" "+p, err)
}

// osDir is a dirHandle on an os.Root opened at the directory.
type osDir struct{ r *os.Root }

func (d *osDir) createTemp() (*os.File, string, error) {
	for range 8 {
		name := tempName()
		f, err := d.r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", diskErr("create temporary file", err)
		}
		return f, name, nil
	}
	return nil, "", fmt.Errorf("push: create temporary file: %w", fs.ErrExist)
}

func (d *osDir) exists(name string) (bool, error) {
	_, err := d.r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *osDir) place(tmp, final string, overwrite bool) error {
	if !overwrite {
		// A hard link fails if final exists: the no-replace rename.
		if err := d.r.Link(tmp, final); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s", ErrExists, final)
			}
			return diskErr("link "+final, err)
		}
		return d.remove(tmp)
	}
	if fi, err := d.r.Lstat(final); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s is a directory", ErrExists, final)
	}
	if err := d.r.Rename(tmp, final); err != nil {
		return diskErr("rename "+final, err)
	}
	return nil
}

// link is not offered: os.Root links only names beneath itself.
func (d *osDir) link(string, *os.File) (string, error) { return "", errNoLink }

func (d *osDir) remove(name string) error {
	if err := d.r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return diskErr("remove "+name, err)
	}
	return nil
}

func (d *osDir) sync() error {
	f, err := d.r.Open(".")
	if err != nil {
		return diskErr("open directory", err)
	}
	err = f.Sync()
	_ = f.Close() // read-only: nothing to flush
	if err != nil {
		return diskErr("fsync directory", err)
	}
	return nil
}

func (d *osDir) close() error { return d.r.Close() }
