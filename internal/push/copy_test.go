// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

// srcFile writes data to a file outside the receive directory and opens it.
func srcFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src")
	must(t, os.WriteFile(p, data, 0o644))
	f, err := os.Open(p)
	must(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestCopyVerified places a file from a verified source file: the bytes
// arrive, and a wrong sum, a longer or a shorter source, or a Write
// after it fail and leave no file.
func TestCopyVerified(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000) // ~1.1 MiB
	sum := core.DigestOf(data)
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		_, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})

		f, err := r.Create("a/ok.bin", int64(len(data)), sum)
		must(t, err)
		if n, err := f.CopyVerified(srcFile(t, data), sum); err != nil || n != int64(len(data)) {
			t.Fatalf("CopyVerified = %d, %v", n, err)
		}
		if got, err := f.Commit(); err != nil || got != sum {
			t.Fatalf("Commit = %v, %v", got, err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "a", "ok.bin")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("placed file differs (%d bytes, %v)", len(got), err)
		}

		fail := func(name string, size int64, src []byte, sum core.Digest, want error, atCommit bool) {
			t.Helper()
			f, err := r.Create("a/"+name, size, core.DigestOf(data))
			must(t, err)
			_, err = f.CopyVerified(srcFile(t, src), sum)
			if atCommit {
				must(t, err)
				_, err = f.Commit()
			}
			if !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", name, err, want)
			}
		}
		wrong := core.DigestOf([]byte("other"))
		fail("wrong.bin", int64(len(data)), data, wrong, push.ErrDigest, false)
		fail("long.bin", int64(len(data))-1, data, sum, push.ErrTooLarge, false)
		fail("short.bin", int64(len(data)), data[:1000], sum, push.ErrSize, true)

		f, err = r.Create("a/mixed.bin", int64(len(data)), sum)
		must(t, err)
		_, err = f.CopyVerified(srcFile(t, data[:10]), sum)
		must(t, err)
		if _, err := f.Write(data[10:]); err == nil {
			t.Fatal("Write after CopyVerified succeeded")
		}
		if got := tree(t, dir); !slices.Equal(got, []string{"a/", "a/ok.bin"}) {
			t.Fatalf("tree = %q, want only a/ok.bin", got)
		}
	})
}

// TestLinkVerified places a file by a hard link to a verified source on
// the same file system where the implementation can (openat2), and
// reports that it cannot, leaving the file usable for a copy, where it
// cannot (os.Root). A wrong sum, a longer or a shorter source fail and
// leave no file; the source itself is never touched.
func TestLinkVerified(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 70000) // ~1.1 MiB
	sum := core.DigestOf(data)
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		base, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		src := filepath.Join(base, "outside", "task.data")
		must(t, os.WriteFile(src, data, 0o600))

		f, err := r.Create("a/ok.bin", int64(len(data)), sum)
		must(t, err)
		linked, err := f.LinkVerified(src, sum)
		must(t, err)
		if !linked {
			if _, err := f.CopyVerified(srcFile(t, data), sum); err != nil {
				t.Fatalf("CopyVerified after a refused link: %v", err)
			}
		}
		if got, err := f.Commit(); err != nil || got != sum {
			t.Fatalf("Commit = %v, %v", got, err)
		}
		placed := filepath.Join(dir, "a", "ok.bin")
		if got, err := os.ReadFile(placed); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("placed file differs (%d bytes, %v)", len(got), err)
		}
		pi, err := os.Stat(placed)
		must(t, err)
		si, err := os.Stat(src)
		must(t, err)
		if same := os.SameFile(pi, si); same != linked {
			t.Fatalf("linked %v, placed file is the source's inode: %v", linked, same)
		}
		// os.Root links only names beneath itself; openat2 links unless
		// the kernel refused openat2 and New fell back to os.Root.
		if linked && strings.HasSuffix(t.Name(), "/osroot") {
			t.Fatal("the os.Root implementation made a link")
		}

		fail := func(name string, size int64, src []byte, sum core.Digest, want error) {
			t.Helper()
			p := filepath.Join(base, "outside", name)
			must(t, os.WriteFile(p, src, 0o600))
			f, err := r.Create("a/"+name, size, core.DigestOf(data))
			must(t, err)
			if _, err := f.LinkVerified(p, sum); !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", name, err, want)
			}
			if _, err := f.Commit(); err == nil {
				t.Fatalf("%s: Commit after a failed LinkVerified succeeded", name)
			}
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, src) {
				t.Fatalf("%s: the source changed (%v)", name, err)
			}
		}
		fail("wrong.bin", int64(len(data)), data, core.DigestOf([]byte("other")), push.ErrDigest)
		fail("long.bin", int64(len(data))-1, data, sum, push.ErrTooLarge)
		fail("short.bin", int64(len(data)), data[:1000], sum, push.ErrSize)
		if got := tree(t, dir); !slices.Equal(got, []string{"a/", "a/ok.bin"}) {
			t.Fatalf("tree = %q, want only a/ok.bin", got)
		}
	})
}
