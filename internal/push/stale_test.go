// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

// TestRemoveStale leaves a receive directory as crashed receivers and
// an attacker might and checks that only old, unheld, regular temporary
// files beneath it are removed, links neither removed nor followed.
func TestRemoveStale(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		base, dir := setup(t)
		old := time.Now().Add(-time.Hour)
		file := func(rel string, age time.Time) string {
			t.Helper()
			p := filepath.Join(dir, rel)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte("partial"), 0o600))
			must(t, os.Chtimes(p, age, age))
			return p
		}
		file(".pollen-push-dead1.tmp", old)        // removed
		file("a/b/.pollen-push-dead2.tmp", old)    // removed, nested
		file(".pollen-push-fresh.tmp", time.Now()) // too young
		file("keep.tmp", old)                      // not pollen's
		file(".pollen-push-nosuffix", old)         // not pollen's
		must(t, os.Mkdir(filepath.Join(dir, ".pollen-push-dir.tmp"), 0o755))
		// A temporary-looking link to a file outside, and a link to a
		// directory outside holding a temporary-looking old file.
		secret := filepath.Join(base, "outside", "secret")
		must(t, os.Chtimes(secret, old, old))
		must(t, os.Symlink(secret, filepath.Join(dir, ".pollen-push-link.tmp")))
		elsewhere := filepath.Join(base, "elsewhere")
		must(t, os.Mkdir(elsewhere, 0o755))
		victim := filepath.Join(elsewhere, ".pollen-push-victim.tmp")
		must(t, os.WriteFile(victim, nil, 0o600))
		must(t, os.Chtimes(victim, old, old))
		must(t, os.Symlink(elsewhere, filepath.Join(dir, "linked")))

		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		// A file a receiver is still receiving, untouched for an hour:
		// its File holds it.
		data := []byte("in flight")
		f, err := r.Create("c/live.bin", int64(len(data)), core.DigestOf(data))
		must(t, err)
		live, _ := filepath.Glob(filepath.Join(dir, "c", ".pollen-push-*.tmp"))
		if len(live) != 1 {
			t.Fatalf("temporary files of the live File: %q", live)
		}
		must(t, os.Chtimes(live[0], old, old))

		removed, err := r.RemoveStale(10 * time.Minute)
		must(t, err)
		slices.Sort(removed)
		if want := []string{".pollen-push-dead1.tmp", "a/b/.pollen-push-dead2.tmp"}; !slices.Equal(removed, want) {
			t.Errorf("removed %q, want %q", removed, want)
		}
		kept := []string{secret, victim, live[0]}
		for _, name := range []string{".pollen-push-link.tmp", ".pollen-push-fresh.tmp", "keep.tmp", ".pollen-push-nosuffix", ".pollen-push-dir.tmp"} {
			kept = append(kept, filepath.Join(dir, name))
		}
		for _, p := range kept {
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("%s: %v, want it kept", p, err)
			}
		}
		// The live file is unharmed and commits.
		_, err = f.Write(data)
		must(t, err)
		_, err = f.Commit()
		must(t, err)
	})
}
