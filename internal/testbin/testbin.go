// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package testbin builds the pollen command for tests that run it as a
// process of its own.
package testbin

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Pollen builds cmd/pollen into a temporary directory of t and returns the
// binary's path. It skips t when there is no go command to build with.
func Pollen(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: no go command to build pollen with")
	}
	bin := filepath.Join(t.TempDir(), "pollen")
	build := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, "github.com/pollen-dev/pollen/cmd/pollen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
