// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pollen-dev/pollen/internal/testbin"
)

// TestBinary builds cmd/pollen and runs it as a process: the wiring in
// main (signals, exit status, stdout and stderr) as users see it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testbin.Pollen(t)
	out, err := exec.CommandContext(t.Context(), bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pollen ") {
		t.Fatalf("pollen version: %q, %v", out, err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "demo", "--peers", "2", "--size", "4MiB")
	cmd.Dir = t.TempDir()
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("pollen demo: %v\n%s", err, stderrOf(err))
	}
	if !strings.Contains(string(out), "every copy verified") {
		t.Errorf("pollen demo printed:\n%s", out)
	}
	if code := exitCode(exec.CommandContext(t.Context(), bin, "demo", "--peers", "many").Run()); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if code := exitCode(exec.CommandContext(t.Context(), bin, "get", "file:///nonexistent/x", "-o", filepath.Join(t.TempDir(), "x")).Run()); code != 1 {
		t.Errorf("missing source: exit %d, want 1", code)
	}
	streamToTar(t, bin)
}

// streamToTar runs the SPEC's stream command line, pollen get --stream
// URL -o - | tar x, on a tar archive of a few files, with no daemon (an
// in-process one), and compares what tar extracted.
func streamToTar(t *testing.T, bin string) {
	sh, err := exec.LookPath("bash")
	if err != nil {
		t.Log("no bash: skipping the tar pipe")
		return
	}
	if _, err := exec.LookPath("tar"); err != nil {
		t.Log("no tar: skipping the tar pipe")
		return
	}
	files := map[string][]byte{"a.bin": make([]byte, 3<<20+5), "dir/b.txt": []byte("hello, stream\n")}
	_, _ = rand.Read(files["a.bin"])
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "files.tar")
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	cmd := exec.CommandContext(t.Context(), sh, "-o", "pipefail", "-c", `"$0" get --stream --window 2 "file://$1" -o - | tar x -C "$2"`, bin, archive, dst)
	cmd.Env = append(os.Environ(), "POLLEN_GET_SOCKET="+filepath.Join(t.TempDir(), "none.sock"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pollen get --stream | tar x: %v\n%s", err, out)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s extracted from the stream differs (%v)", name, err)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(ee.Stderr)
	}
	return ""
}

func exitCode(err error) int {
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
