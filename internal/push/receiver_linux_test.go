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
			r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
			r.SetPreallocate(prealloc)
			err := receive(t, r, "d/big.bin", data)
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

// TestPushDiskFull pushes a 2 MiB file to a receiver whose directory is
// a 1 MiB tmpfs and to one whose piece store is: each reports a full
// disk to the pusher (push.ErrDiskFull, non-zero exit) and leaves no
// partial file, neither in the directory nor in the store. Needs root for
// the tmpfs; skipped otherwise.
func TestPushDiskFull(t *testing.T) {
	small := func(t *testing.T) string {
		dir := t.TempDir()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
			t.Skipf("cannot mount a tmpfs (not root?): %v", err)
		}
		t.Cleanup(func() { must(t, syscall.Unmount(dir, 0)) })
		return dir
	}
	fullDir, fullStore := small(t), small(t)
	srvDir := filepath.Join(fullStore, "store")
	addrs := []string{
		startServerIn(t, fullDir, t.TempDir()),
		startServerIn(t, t.TempDir(), srvDir),
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	data := bytes.Repeat([]byte("q"), 2<<20)
	must(t, os.WriteFile(src, data, 0o644))
	reports, _, err := push.Push(t.Context(), push.PusherConfig{Files: []string{src}, Receivers: addrs, Token: token, Listen: "127.0.0.1:0"})
	must(t, err)
	if push.ExitCode(reports) == 0 {
		t.Fatal("push to full disks succeeded")
	}
	for i, r := range reports {
		t.Logf("receiver %d: %v", i, r.Err)
		if !errors.Is(r.Err, push.ErrDiskFull) {
			t.Errorf("receiver %d: %v, want a full disk", i, r.Err)
		}
	}
	if got := tree(t, fullDir); len(got) != 0 {
		t.Errorf("full directory holds %q", got)
	}
	if got := tree(t, srvDir); len(got) != 0 {
		t.Errorf("full store holds %q", got)
	}
}
