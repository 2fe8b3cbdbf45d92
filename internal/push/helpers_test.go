// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/pollen-dev/pollen/internal/push"
)

// impls runs body once per directory implementation: openat2 (Linux) and
// os.Root.
func impls(t *testing.T, body func(t *testing.T, open func(push.Config) (*push.Receiver, error))) {
	t.Helper()
	if runtime.GOOS == "linux" {
		t.Run("openat2", func(t *testing.T) { body(t, push.New) })
	}
	t.Run("osroot", func(t *testing.T) { body(t, push.NewWithOSRoot) })
}

// openReceiver opens a receiver with open for cfg and closes it, checking
// the error, when the test ends.
func openReceiver(t *testing.T, open func(push.Config) (*push.Receiver, error), cfg push.Config) *push.Receiver {
	t.Helper()
	r, err := open(cfg)
	must(t, err)
	t.Cleanup(func() { must(t, r.Close()) })
	return r
}

// setup makes base/ with base/dir (the receive directory) and
// base/outside/secret, and returns base and dir.
func setup(t *testing.T) (base, dir string) {
	t.Helper()
	base = t.TempDir()
	dir = filepath.Join(base, "dir")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.Mkdir(filepath.Join(base, "outside"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "outside", "secret"), []byte("secret"), 0o644))
	return base, dir
}

// tree lists every path under root (not root itself) (relative, with a trailing / for
// directories and -> target for links).
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			rel += " -> " + target
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	must(t, err)
	slices.Sort(out)
	return out
}

// must2 checks the error of a call that also returns a count.
func must2(t *testing.T) func(int, error) {
	return func(_ int, err error) {
		t.Helper()
		must(t, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
