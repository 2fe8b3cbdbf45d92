// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package piece_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
)

// crashEnv, when set in the environment, makes TestCrashHelper run as the
// child process of TestCrashResume, using the store directory it names.
const crashEnv = "PIECE_CRASH_HELPER_DIR"

// crashData is the object the crash test downloads: 96 pieces of 64 KiB.
func crashData() ([]byte, piece.Meta) {
	data := payload(96*64<<10-123, 42)
	return data, metaFor(data, 64<<10, false)
}

// TestCrashHelper is not a test: run by TestCrashResume as a separate
// process, it writes the missing pieces in random order in 4 KiB chunks,
// printing "ok N" after each commit, until it is killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashResume")
	}
	data, m := crashData()
	st, err := piece.Open(piece.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stdout, "error", err)
		os.Exit(1)
	}
	task, err := st.Create(m)
	if err != nil {
		fmt.Fprintln(os.Stdout, "error", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "ready")
	for _, i := range rand.Perm(m.Layout.Pieces()) {
		w, err := task.NewPieceWriter(core.PieceIndex(i))
		if err != nil {
			continue // present from an earlier run
		}
		b := pieceBytes(data, m.Layout, core.PieceIndex(i))
		for len(b) > 0 {
			n := min(len(b), 4096)
			if _, err := w.Write(b[:n]); err != nil {
				fmt.Fprintln(os.Stdout, "error", err)
				os.Exit(1)
			}
			b = b[n:]
		}
		if err := w.Commit(core.Digest{}); err != nil {
			fmt.Fprintln(os.Stdout, "error", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stdout, "ok", i)
	}
	fmt.Fprintln(os.Stdout, "done")
	select {} // wait to be killed
}

// TestCrashResume runs TestCrashHelper in a child process, SIGKILLs it
// after a few pieces, three times over, then reopens the store: every
// piece the child reported committed is present, every present piece has
// the right bytes, and finishing the download yields the right SHA-256.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	data, m := crashData()
	committed := map[int]bool{}
	for round, kills := range []int{5, 9, 14} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A child that stops reporting is killed, so the test fails with
		// its stderr instead of hanging.
		watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(out)
		seen := 0
		for seen < kills && sc.Scan() {
			line := sc.Text()
			var i int
			switch {
			case strings.HasPrefix(line, "ok "):
				if _, err := fmt.Sscan(line[3:], &i); err != nil {
					t.Fatalf("round %d: helper said %q", round, line)
				}
				committed[i] = true
				seen++
			case strings.HasPrefix(line, "error"):
				t.Fatalf("round %d: helper: %s", round, line)
			}
		}
		watchdog.Stop()
		// Kill mid-write: the helper is writing the next piece by now.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: helper exited with %v; stderr:\n%s", round, err, stderr.String())
		}
		if seen < kills {
			t.Fatalf("round %d: helper stopped after %d pieces; stderr:\n%s", round, seen, stderr.String())
		}
	}

	st := openStore(t, piece.Config{Dir: dir})
	task, err := st.Acquire(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Release()
	have := task.Bitmap()
	for i := range committed {
		if !have[i] {
			t.Errorf("piece %d was committed before the kill but is not present", i)
		}
	}
	for i, ok := range have {
		if !ok {
			continue
		}
		sec, err := task.OpenPiece(core.PieceIndex(i))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(sec)
		_ = sec.Close()
		if err != nil || !bytes.Equal(got, pieceBytes(data, m.Layout, core.PieceIndex(i))) {
			t.Errorf("present piece %d has wrong bytes (%v)", i, err)
		}
	}
	t.Logf("%d pieces present after 3 kills, %d reported committed", task.Present(), len(committed))
	writeAll(t, task, data, seq(m.Layout.Pieces()))
	select {
	case <-task.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("task not complete")
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := task.Export(dst); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if core.DigestOf(got) != m.Digest {
		t.Fatalf("exported digest %s, want %s", core.DigestOf(got), m.Digest)
	}
}
