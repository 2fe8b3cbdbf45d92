// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Export writes the complete task to the file dst so that dst appears only
// complete and verified: the data goes to a temporary file beside dst
// (hard-linked if [Config.ExportByLink], else copied, which the kernel
// turns into copy_file_range), is fsynced, renamed over dst, and the
// directory is fsynced. On any failure the temporary file is removed and
// dst is untouched; a full disk gives an error wrapping [ErrDiskFull].
// Export fails with [ErrIncomplete] before the task is complete; if every
// piece is present but recording completion failed, it retries that first.
// The task stays pinned while exporting.
func (t *Task) Export(dst string) (err error) {
	_ = t.Sync() // pieces published without waiting: the outcome is read back below
	if !t.Complete() && t.durableCount() == t.hdr.layout.Pieces() {
		// Every piece is in but completion was not recorded (say the
		// disk was full at that moment): try again.
		_ = t.advanceHashWait() // the outcome is read back below
	}
	if !t.Complete() {
		if ferr := t.Err(); ferr != nil {
			return fmt.Errorf("%w: %w", ErrIncomplete, ferr)
		}
		return fmt.Errorf("%w: %s has %d of %d pieces", ErrIncomplete, t.hdr.id.Short(), t.Present(), t.hdr.layout.Pieces())
	}
	if err := t.st.repin(t); err != nil {
		return err
	}
	defer t.Release()
	fsys := t.st.fs
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".pollen-"+hex.EncodeToString(rnd[:])+tmpSuffix)
	defer func() {
		if err != nil {
			_ = fsys.Remove(tmp) // may not exist; the error that matters is err
			err = diskErr(fmt.Sprintf("piece: export %s to %s", t.hdr.id.Short(), dst), err)
		}
	}()
	src := filepath.Join(t.dir, dataName)
	if t.st.cfg.ExportByLink {
		if err := fsys.Link(src, tmp); err != nil {
			return err
		}
		f, err := fsys.OpenFile(tmp, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		if err := syncClose(f); err != nil {
			return err
		}
	} else if err := t.copyTo(tmp); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, dst); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(dst))
}

// copyTo copies the data file to a new file name and fsyncs it.
func (t *Task) copyTo(name string) error {
	fsys := t.st.fs
	in, err := fsys.OpenFile(filepath.Join(t.dir, dataName), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }() // read-only: nothing to lose
	out, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	// Both are *os.File on the OS file system: io.Copy then uses
	// copy_file_range (or sendfile), never a user-space buffer.
	n, err := io.Copy(out, in)
	if err == nil && n != t.hdr.layout.Size {
		err = fmt.Errorf("copied %d bytes of %d", n, t.hdr.layout.Size)
	}
	if err != nil {
		_ = out.Close() // err is the failure that matters
		return err
	}
	return syncClose(out)
}

// syncClose fsyncs and closes f, returning the first error.
func syncClose(f File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
