// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/pollen-dev/pollen/internal/core"
)

// File is one pushed file being received: bytes are written in order to
// a hidden temporary file and hashed as they arrive; [File.Commit] places
// it, [File.Abort] (or any error) removes it. A File is used by one
// goroutine.
type File struct {
	name      string // as pushed
	final     string // last component of name
	dir       dirHandle
	f         *os.File
	w         io.Writer // f; tests put a faulty writer here
	tmp       string
	size      int64
	want      core.Digest
	mode      fs.FileMode
	overwrite bool
	h         hash.Hash
	n         int64
	verified  bool  // CopyVerified wrote the bytes: h saw none of them
	err       error // set once the file is committed or aborted
}

// Name returns the relative name the file is placed under.
func (f *File) Name() string { return f.name }

// Size returns the announced size.
func (f *File) Size() int64 { return f.size }

// Written returns the bytes written so far.
func (f *File) Written() int64 { return f.n }

// Write appends p. More bytes than announced fail with [ErrTooLarge]; a
// full disk with [ErrDiskFull]. Any error aborts the file.
func (f *File) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if f.verified {
		return 0, f.abort(fmt.Errorf("push: %q: Write after CopyVerified", f.name))
	}
	if int64(len(p)) > f.size-f.n {
		return 0, f.abort(f.tooLarge())
	}
	k, err := f.w.Write(p)
	f.h.Write(p[:k])
	f.n += int64(k)
	if err == nil && k < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return k, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("write", err)))
	}
	return k, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// ReadFrom writes everything src yields, up to EOF, with the same checks
// as Write.
func (f *File) ReadFrom(src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// Hidden behind plain interfaces, src's WriteTo and f's own ReadFrom
	// stay out of the copy: every byte goes through Write.
	return io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{src}, *bp)
}

// CopyVerified writes the whole of src, a file whose SHA-256 the caller
// has already checked to be sum, and fails unless sum is the announced
// digest. The bytes are copied in the kernel (copy_file_range, or
// sendfile across file systems): no user-space buffer and no second hash,
// which the check the caller made would only repeat. [File.Commit] then
// checks the length and trusts sum. It must be the only write to f.
func (f *File) CopyVerified(src *os.File, sum core.Digest) (int64, error) {
	if err := f.beginVerified("CopyVerified", sum); err != nil {
		return 0, err
	}
	f.verified = true
	// One byte more than announced tells a longer source; the limit keeps
	// os.File's copy_file_range path.
	n, err := f.f.ReadFrom(&io.LimitedReader{R: src, N: f.size + 1})
	f.n = n
	switch {
	case err != nil:
		return n, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("copy", err)))
	case n > f.size:
		return n, f.abort(f.tooLarge())
	}
	return n, nil
}

// LinkVerified places the file at path src, whose SHA-256 the caller has
// already checked to be sum, by a hard link instead of a copy: no byte is
// written again, and [File.Commit]'s fsync finds little or nothing left to
// write (a daemon's piece store has synced most pieces by then). In the
// 16-receiver lab the copy and its fsync took 1.5 s per receiver, all at
// once at the end. The placed file then shares its inode with src: a
// daemon that keeps seeding src serves whatever is written to the placed
// file (its peers verify every piece and reject wrong bytes). It fails
// unless sum is the announced digest and src has the announced size. It
// returns false, leaving f as it was, where no link can be made (src on
// another file system, or no hard links there): [File.CopyVerified] then.
// It must be the only write to f.
func (f *File) LinkVerified(src string, sum core.Digest) (bool, error) {
	if err := f.beginVerified("LinkVerified", sum); err != nil {
		return false, err
	}
	sf, err := os.Open(src)
	if err != nil {
		return false, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("open", err)))
	}
	name, err := f.link(src, sf)
	if err != nil {
		_ = sf.Close()
		if errors.Is(err, errNoLink) {
			return false, nil
		}
		return false, f.abort(err)
	}
	// The linked name replaces the temporary file made (and preallocated)
	// for a copy; Commit syncs, chmods and renames through sf.
	_ = f.f.Close()
	err = f.dir.remove(f.tmp)
	f.f, f.tmp = sf, name
	if err != nil {
		return false, f.abort(err)
	}
	f.verified = true
	f.n = f.size
	return true, nil
}

// link checks that sf, opened from the path src, has the announced size
// and links it into f's directory under a temporary name, which it
// returns; errNoLink where no link can be made.
func (f *File) link(src string, sf *os.File) (string, error) {
	fi, err := sf.Stat()
	switch {
	case err != nil:
		return "", fmt.Errorf("%q: %w", f.name, diskErr("stat", err))
	case fi.Size() > f.size:
		return "", f.tooLarge()
	case fi.Size() < f.size:
		return "", f.short(fi.Size())
	}
	name, err := f.dir.link(src, sf)
	if err != nil && !errors.Is(err, errNoLink) {
		return "", fmt.Errorf("%q: %w", f.name, err)
	}
	return name, err
}

// beginVerified checks what CopyVerified and LinkVerified (op) need
// before they write: f is unused so far and sum is the announced digest.
func (f *File) beginVerified(op string, sum core.Digest) error {
	switch {
	case f.err != nil:
		return f.err
	case f.n != 0:
		return f.abort(fmt.Errorf("push: %q: %s after Write", f.name, op))
	case sum != f.want:
		return f.abort(&DigestError{Name: f.name, Want: f.want, Got: sum})
	}
	return nil
}

// tooLarge is the error for more bytes than announced.
func (f *File) tooLarge() error {
	return fmt.Errorf("%w: %q: more than the announced %d bytes", ErrTooLarge, f.name, f.size)
}

// short is the error for n bytes where more were announced.
func (f *File) short(n int64) error {
	return fmt.Errorf("%w: %q: %d of %d bytes", ErrSize, f.name, n, f.size)
}

// Commit checks that the announced size arrived and that its SHA-256 is
// the announced digest, makes the file durable (fsync), renames it into
// place and makes the rename durable (fsync of the directory). It returns
// the verified digest. On any failure the temporary file is removed and
// nothing is left under the name; an error from the final directory fsync
// is returned with the file already in place (complete and verified).
func (f *File) Commit() (core.Digest, error) {
	if f.err != nil {
		return core.Digest{}, f.err
	}
	if f.n != f.size {
		return core.Digest{}, f.abort(f.short(f.n))
	}
	got := f.want // CopyVerified checked it
	if !f.verified {
		got = core.Digest(f.h.Sum(nil))
	}
	if got != f.want {
		return core.Digest{}, f.abort(&DigestError{Name: f.name, Want: f.want, Got: got})
	}
	if err := f.f.Sync(); err != nil {
		return core.Digest{}, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("fsync", err)))
	}
	if err := f.f.Chmod(f.mode); err != nil {
		return core.Digest{}, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("chmod", err)))
	}
	if err := f.f.Close(); err != nil {
		f.f = nil
		return core.Digest{}, f.abort(fmt.Errorf("%q: %w", f.name, diskErr("close", err)))
	}
	f.f = nil
	if err := f.dir.place(f.tmp, f.final, f.overwrite); err != nil {
		return core.Digest{}, f.abort(fmt.Errorf("%q: %w", f.name, err))
	}
	f.err = ErrClosed
	err := f.dir.sync()
	_ = f.dir.close() // read-only directory handle
	if err != nil {
		return got, fmt.Errorf("%q placed: %w", f.name, err)
	}
	return got, nil
}

// Abort gives up the file and removes the temporary file. It is
// idempotent and does nothing after a successful Commit.
func (f *File) Abort() error {
	if f.err != nil {
		return nil
	}
	if err := f.abort(ErrClosed); err != ErrClosed { //nolint:errorlint // abort returns ErrClosed itself unless removing failed
		return err // the temporary file could not be removed
	}
	return nil
}

// abort removes the temporary file, releases everything and records err,
// which it returns (joined with a failure to remove).
func (f *File) abort(err error) error {
	if f.err != nil {
		return f.err
	}
	if f.f != nil {
		_ = f.f.Close() // the file is removed below; its contents do not matter
		f.f = nil
	}
	if rerr := f.dir.remove(f.tmp); rerr != nil {
		err = errors.Join(err, rerr)
	}
	_ = f.dir.close()
	f.err = err
	return err
}
