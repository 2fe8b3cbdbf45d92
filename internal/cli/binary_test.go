// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds cmd/pollen and runs it as a process: the wiring in
// main (signals, exit status, stdout and stderr) as users see it.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pollen")
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	build := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, "../../cmd/pollen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
