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
		{[]string{"get", "--stream", "file://" + filepath.Join(dir, "missing"), "-o", "-"}, "missing"},
		{[]string{"get", "--socket", filepath.Join(dir, "no.sock"), "file:///x"}, "no daemon answers"},
	} {
		code, _, stderr := run(t, tc.args...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}

func TestGetStreamInProcess(t *testing.T) {
	noDaemon(t)
	src, data := randomFile(t, 3<<20+123)
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	code, stdout, stderr := run(t, "get", "--stream", "--window", "2", "file://"+src, "-o", "-", "--digest", digest)
	if code != 0 || stdout != string(data) {
		t.Fatalf("exit %d, %d bytes on stdout, stderr:\n%s", code, len(stdout), stderr)
	}
	out := filepath.Join(t.TempDir(), "out.bin")
	code, _, stderr = run(t, "get", "--stream", "file://"+src, "-o", out)
	if got, err := os.ReadFile(out); code != 0 || err != nil || !bytes.Equal(got, data) {
		t.Fatalf("exit %d (%v), stderr:\n%s", code, err, stderr)
	}
}

func TestGetStreamErrors(t *testing.T) {
	noDaemon(t)
	src, data := randomFile(t, 1<<20)
	wrong := "sha256:" + strings.Repeat("ab", 32)
	// The bytes went out; the end says they are not the object.
	code, stdout, stderr := run(t, "get", "--stream", "file://"+src, "-o", "-", "--digest", wrong)
	if code != 1 || len(stdout) != len(data) || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "digest mismatch") {
		t.Errorf("wrong digest: exit %d, %d bytes out, stderr %q; want exit 1 and one line about the digest", code, len(stdout), stderr)
	}
	out := filepath.Join(t.TempDir(), "out.bin")
	if code, _, _ := run(t, "get", "--stream", "file://"+src, "-o", out, "--digest", wrong); code != 1 {
		t.Errorf("wrong digest to a file: exit %d", code)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output left after a failed stream: %v", err)
	}
	for _, args := range [][]string{
		{"get", "--window", "4", "file://" + src, "-o", "-"},
		{"get", "--stream", "--window", "-1", "file://" + src, "-o", "-"},
		{"get", "--stream", "--window", "100000", "file://" + src, "-o", "-"},
	} {
		if code, _, stderr := run(t, args...); code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}

// TestGetStreamDaemon streams through a daemon's socket, the path the
// SPEC names: pollen get --stream URL -o - with a daemon running.
func TestGetStreamDaemon(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	start(t, "daemon", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--socket", sock)
	waitFor(t, "the daemon's socket", func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
	src, data := randomFile(t, 5<<20+1)
	sum := sha256.Sum256(data)
	code, stdout, stderr := run(t, "get", "--stream", "--socket", sock, "file://"+src, "-o", "-", "--digest", "sha256:"+hex.EncodeToString(sum[:]))
	if code != 0 || stdout != string(data) {
		t.Fatalf("exit %d, %d bytes on stdout, stderr:\n%s", code, len(stdout), stderr)
	}
	// Nothing of it went to the daemon's store.
	ents, err := os.ReadDir(filepath.Join(dir, "data", "tasks"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("the daemon's store has %d entries after a stream", len(ents))
	}
}
