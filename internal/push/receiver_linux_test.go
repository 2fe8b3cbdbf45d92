// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

// A real full file system: a 1 MiB tmpfs (needs root; skipped otherwise).
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs (not root?): %v", err)
	}
	t.Cleanup(func() { must(t, syscall.Unmount(dir, 0)) })
	data := bytes.Repeat([]byte("z"), 2<<20)
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		for _, prealloc := range []bool{true, false} {
			r, err := open(push.Config{Dir: dir, Token: token})
			must(t, err)
			defer func() { must(t, r.Close()) }()
			r.SetPreallocate(prealloc)
			err = receive(t, r, "d/big.bin", data)
			if !errors.Is(err, push.ErrDiskFull) {
				t.Fatalf("prealloc %v: push of 2 MiB into 1 MiB = %v, want ErrDiskFull", prealloc, err)
			}
			// The same through the in-kernel copy of a verified file.
			f, err := r.Create("d/big2.bin", int64(len(data)), core.DigestOf(data))
			if err == nil {
				_, err = f.CopyVerified(srcFile(t, data), core.DigestOf(data))
			}
			if !errors.Is(err, push.ErrDiskFull) {
				t.Fatalf("prealloc %v: CopyVerified of 2 MiB into 1 MiB = %v, want ErrDiskFull", prealloc, err)
			}
			must(t, receive(t, r, "d/small.bin", data[:1000]))
			if got := tree(t, dir); !slices.Equal(got, []string{"d/", "d/small.bin"}) {
				t.Fatalf("prealloc %v: tree = %q", prealloc, got)
			}
			must(t, os.RemoveAll(filepath.Join(dir, "d")))
		}
	})
}
