// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// resolve is how every path below the root is opened: beneath the
// starting directory, through no symbolic link at all.
const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openRoot opens dir with openat2, or with os.Root where the kernel (or a
// seccomp filter) does not offer openat2.
func openRoot(dir string) (rootDir, error) {
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("push: open %s: %w", dir, err)
	}
	probe, err := unix.Openat2(fd, ".", &unix.OpenHow{Flags: unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC, Resolve: resolve})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		_ = unix.Close(fd)
		return openOSRoot(dir)
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("push: open %s: %w", dir, err)
	}
	_ = unix.Close(probe)
	return &linuxRoot{fd: fd}, nil
}

// linuxRoot implements rootDir with openat2.
type linuxRoot struct{ fd int }

func (r *linuxRoot) openDir(parts []string, mode fs.FileMode) (dirHandle, error) {
	cur, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("push: dup: %w", err)
	}
	for k, p := range parts {
		if err := unix.Mkdirat(cur, p, uint32(mode)); err != nil && !errors.Is(err, unix.EEXIST) {
			_ = unix.Close(cur)
			return nil, diskErr("mkdir "+strings.Join(parts[:k+1], "/"), err)
		}
		next, err := unix.Openat2(cur, p, &unix.OpenHow{
			Flags:   unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
			Resolve: resolve,
		})
		if errors.Is(err, unix.ENOTDIR) {
			// O_NOFOLLOW|O_DIRECTORY on a link gives ENOTDIR: tell a
			// link from a file.
			var st unix.Stat_t
			if unix.Fstatat(cur, p, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		_ = unix.Close(cur) // a directory opened for reading: nothing to flush
		switch {
		case errors.Is(err, unix.ELOOP):
			return nil, &NameError{Name: strings.Join(parts, "/"), Reason: "symbolic link at " + strings.Join(parts[:k+1], "/")}
		case errors.Is(err, unix.EXDEV):
			return nil, &NameError{Name: strings.Join(parts, "/"), Reason: "escapes the directory"}
		case errors.Is(err, unix.ENOTDIR):
			return nil, fmt.Errorf("%w: %s is not a directory", ErrExists, strings.Join(parts[:k+1], "/"))
		case err != nil:
			return nil, diskErr("open "+strings.Join(parts[:k+1], "/"), err)
		}
		cur = next
	}
	return &linuxDir{fd: cur}, nil
}

func (r *linuxRoot) close() error { return unix.Close(r.fd) }

// linuxDir is a dirHandle on a directory file descriptor.
type linuxDir struct{ fd int }

func (d *linuxDir) createTemp() (*os.File, string, error) {
	for range 8 {
		name := tempName()
		fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, "", diskErr("create temporary file", err)
		}
		return os.NewFile(uintptr(fd), name), name, nil
	}
	return nil, "", fmt.Errorf("push: create temporary file: %w", fs.ErrExist)
}

func (d *linuxDir) exists(name string) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

func (d *linuxDir) place(tmp, final string, overwrite bool) error {
	if !overwrite {
		err := unix.Renameat2(d.fd, tmp, d.fd, final, unix.RENAME_NOREPLACE)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EEXIST):
			return fmt.Errorf("%w: %s", ErrExists, final)
		case !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS):
			return diskErr("rename "+final, err)
		}
		// The file system has no RENAME_NOREPLACE: link fails if final
		// exists, which is the same guarantee.
		if err := unix.Linkat(d.fd, tmp, d.fd, final, 0); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("%w: %s", ErrExists, final)
			}
			return diskErr("link "+final, err)
		}
		return d.remove(tmp)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, final, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%w: %s is a directory", ErrExists, final)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, final); err != nil {
		return diskErr("rename "+final, err)
	}
	return nil
}

func (d *linuxDir) link(src string, srcFile *os.File) (string, error) {
	var want unix.Stat_t
	if err := unix.Fstat(int(srcFile.Fd()), &want); err != nil {
		return "", diskErr("stat source", err)
	}
	for range 8 {
		name := tempName()
		err := unix.Linkat(unix.AT_FDCWD, src, d.fd, name, 0)
		switch {
		case errors.Is(err, unix.EEXIST):
			continue
		case errors.Is(err, unix.EXDEV), errors.Is(err, unix.EPERM), errors.Is(err, unix.EMLINK),
			errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
			return "", errNoLink
		case err != nil:
			return "", diskErr("link temporary file", err)
		}
		// The name must be the file the caller opened, not one put at
		// src since.
		var got unix.Stat_t
		if err := unix.Fstatat(d.fd, name, &got, unix.AT_SYMLINK_NOFOLLOW); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
			_ = d.remove(name)
			return "", fmt.Errorf("push: link %s: not the opened source file", src)
		}
		return name, nil
	}
	return "", fmt.Errorf("push: link temporary file: %w", fs.ErrExist)
}

func (d *linuxDir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return diskErr("remove "+name, err)
	}
	return nil
}

func (d *linuxDir) sync() error {
	if err := unix.Fsync(d.fd); err != nil {
		return diskErr("fsync directory", err)
	}
	return nil
}

func (d *linuxDir) close() error { return unix.Close(d.fd) }

// preallocate reserves size bytes for f so that a full disk shows before
// the first byte arrives. File systems without fallocate are skipped.
func preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	if err != nil {
		return diskErr("preallocate", err)
	}
	return nil
}
