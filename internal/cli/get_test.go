// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noDaemon points `pollen get`'s default socket at a path where no
// daemon answers, so that it downloads in-process.
func noDaemon(t *testing.T) {
	t.Setenv("POLLEN_GET_SOCKET", filepath.Join(t.TempDir(), "none.sock"))
}

func TestGetInProcess(t *testing.T) {
	noDaemon(t)
	src, data := randomFile(t, 3<<20+123)
	sum := sha256.Sum256(data)
	out := filepath.Join(t.TempDir(), "out.bin")
	code, _, stderr := run(t, "get", "file://"+src, "-o", out, "--digest", "sha256:"+hex.EncodeToString(sum[:]))
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs from the source (%v)", err)
	}
	if stderr != "" {
		t.Errorf("stderr not quiet off a terminal:\n%s", stderr)
	}
}

func TestGetStdout(t *testing.T) {
	noDaemon(t)
	src, data := randomFile(t, 1<<20)
	code, stdout, stderr := run(t, "get", "file://"+src, "-o", "-")
	if code != 0 || stdout != string(data) {
		t.Fatalf("exit %d, %d bytes on stdout, stderr:\n%s", code, len(stdout), stderr)
	}
}

func TestGetWrongDigest(t *testing.T) {
	noDaemon(t)
	src, _ := randomFile(t, 1<<20)
	out := filepath.Join(t.TempDir(), "out.bin")
	wrong := "sha256:" + strings.Repeat("ab", 32)
	code, _, stderr := run(t, "get", "file://"+src, "-o", out, "--digest", wrong)
	if code != 1 || !strings.HasPrefix(stderr, "pollen: ") || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "digest mismatch") {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line about the digest", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a digest mismatch: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 0 {
		t.Errorf("left in the output directory: %v", ents)
	}
}

func TestGetErrors(t *testing.T) {
	noDaemon(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "file://" + filepath.Join(dir, "missing"), "-o", filepath.Join(dir, "o")}, "missing"},
		{[]string{"get", "--stream", "file:///x", "-o", "-"}, "not implemented"},
		{[]string{"get", "--socket", filepath.Join(dir, "no.sock"), "file:///x"}, "no daemon answers"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}
