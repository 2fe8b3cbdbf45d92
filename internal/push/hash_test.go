// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

// TestHashFile checks a seed: the whole-file digest, one digest per piece
// (the last one short), and the task named by that manifest, which is
// what lets receivers verify by the manifest alone; an empty file has no
// manifest and is named by its digest.
func TestHashFile(t *testing.T) {
	dir := t.TempDir()
	ps := int64(core.MinPieceSize)
	data := make([]byte, 3*ps-7)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p := filepath.Join(dir, "f.bin")
	must(t, os.WriteFile(p, data, 0o644))
	s, err := push.HashFile(p, ps)
	must(t, err)
	if s.Digest != core.DigestOf(data) || len(s.Pieces) != 3 {
		t.Fatalf("digest %v, %d pieces", s.Digest, len(s.Pieces))
	}
	for i, d := range s.Pieces {
		if want := core.DigestOf(data[int64(i)*ps : min(int64(i+1)*ps, int64(len(data)))]); d != want {
			t.Errorf("piece %d: %v, want %v", i, d, want)
		}
	}
	if want := core.TaskIDForManifest(s.Pieces, ps); s.Task != want {
		t.Errorf("task %s, want the manifest's %s", s.Task, want)
	}

	empty := filepath.Join(dir, "empty")
	must(t, os.WriteFile(empty, nil, 0o644))
	s, err = push.HashFile(empty, 0)
	must(t, err)
	if len(s.Pieces) != 0 || s.Task != core.TaskIDForDigest(core.DigestOf(nil), s.Layout.PieceSize) {
		t.Errorf("empty file: %d pieces, task %s; want none, named by the digest", len(s.Pieces), s.Task)
	}
}
