// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files in testdata/")

// TestOpTrace records the file system operations of creating a task and
// completing its pieces out of order, and compares them with
// testdata/optrace.golden. The trace is the crash-safety protocol: data
// fsynced before the journal record that vouches for it, the journal
// created under a temporary name, fsynced, renamed, directory fsynced.
// A change to it must be a deliberate one: rerun with -rewrite and review
// the diff against docs/design/0002-piece-store.md.
func TestOpTrace(t *testing.T) {
	dir := t.TempDir()
	lfs := piecetest.NewLogFS(piece.OS, dir)
	st := openStore(t, piece.Config{Dir: dir, FS: lfs})
	data := []byte("0123456789")
	m := piece.Meta{
		ID:     core.TaskIDForURL("http://origin.test/ten", 4),
		URL:    "http://origin.test/ten",
		Layout: core.Layout{Size: 10, PieceSize: 4},
		Digest: core.DigestOf(data),
	}
	lfs.Reset() // opening the store is not part of the trace
	var trace []string
	section := func(name string) {
		for _, op := range lfs.Ops() {
			trace = append(trace, strings.ReplaceAll(op, string(m.ID), "<task>"))
		}
		trace = append(trace, "", "# "+name)
		lfs.Reset()
	}
	section("create task")
	task := createTask(t, st, m)
	section("piece 1 (out of order: no hash progress)")
	writeAll(t, task, data, []int{1})
	section("piece 0 (hash advances over 0 and 1: checkpoint)")
	writeAll(t, task, data, []int{0})
	section("piece 2 (last: completion record)")
	writeAll(t, task, data, []int{2})
	section("release")
	task.Release()
	section("end")
	got := strings.Join(trace[1:], "\n") + "\n"

	golden := filepath.Join("testdata", "optrace.golden")
	if *rewrite {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if got != string(want) {
		t.Errorf("op trace differs from %s (rerun with -rewrite if intended):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}
