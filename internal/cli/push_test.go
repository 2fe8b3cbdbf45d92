// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package cli

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/testbin"
)

// receiver is a `pollen receive` run in-process.
type receiver struct {
	addr, dir string
	svc       *service
}

// startReceiver runs `pollen receive` on a free loopback port with args
// added and waits until it accepts connections.
func startReceiver(t *testing.T, args ...string) receiver {
	t.Helper()
	r := receiver{addr: freeAddr(t), dir: t.TempDir()}
	base := []string{"receive", "--listen", r.addr, "--dir", r.dir, "--data", t.TempDir(), "--linger", "3s", "--log-level", "warn"}
	r.svc = start(t, append(base, args...)...)
	waitFor(t, "receiver "+r.addr, func() bool {
		if code, ok := r.svc.exited(); ok {
			t.Fatalf("receive exited %d:\n%s", code, r.svc.stderr.String())
		}
		c, err := net.Dial("tcp", r.addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return r
}

// sameFile fails the test unless the file at p has the contents want.
func sameFile(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: %d bytes differ from the %d pushed", p, len(got), len(want))
	}
}

var originLine = regexp.MustCompile(`origin: served (\d+) bytes`)

// originBytes returns the bytes the pusher's origin served, from the
// summary.
func originBytes(t *testing.T, out string) int64 {
	t.Helper()
	m := originLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no origin line in:\n%s", out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestPushThree pushes one file to three receivers: each gets an
// identical copy, and the pusher's origin serves about one copy, the
// receivers fetching the rest from each other.
func TestPushThree(t *testing.T) {
	t.Parallel()
	const size = 12 << 20 // 48 pieces of 256 KiB
	src, data := randomFile(t, size)
	var rs []receiver
	var to []string
	for range 3 {
		r := startReceiver(t, "--token", "s3cret")
		rs = append(rs, r)
		to = append(to, r.addr)
	}
	code, out, errOut := run(t, "push", src, "--to", strings.Join(to, ","), "--token", "s3cret", "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("push: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, r := range rs {
		sameFile(t, filepath.Join(r.dir, "blob.bin"), data)
	}
	if n := strings.Count(out, " ok\n"); n != 3 || !strings.Contains(out, "3 of 3 transfers ok") {
		t.Errorf("summary:\n%s", out)
	}
	if served := originBytes(t, out); served > size*13/10 {
		t.Errorf("origin served %d bytes for 3 receivers of %d: more than 1.3 copies\n%s", served, size, out)
	}
}

// TestPushReceiverDown pushes to two receivers and a port nobody listens
// on: the two get the file, the summary names the third, exit status 1.
func TestPushReceiverDown(t *testing.T) {
	t.Parallel()
	src, data := randomFile(t, 3<<20)
	a, b := startReceiver(t, "--token", "t"), startReceiver(t, "--token", "t")
	down := freeAddr(t)
	code, out, _ := run(t, "push", src, "--to", a.addr+","+down+","+b.addr, "--token", "t", "--listen", "127.0.0.1:0")
	if code != 1 {
		t.Fatalf("push: exit %d, want 1\n%s", code, out)
	}
	sameFile(t, filepath.Join(a.dir, "blob.bin"), data)
	sameFile(t, filepath.Join(b.dir, "blob.bin"), data)
	if !regexp.MustCompile(regexp.QuoteMeta(down) + `.*FAILED`).MatchString(out) {
		t.Errorf("summary does not name %s as failed:\n%s", down, out)
	}
	if !strings.Contains(out, "2 of 3 transfers ok, 1 failed") {
		t.Errorf("summary:\n%s", out)
	}
}

// TestPushRefused: a wrong token and a file over --max-size are refused
// before any byte moves, and nothing appears in the directory.
func TestPushRefused(t *testing.T) {
	t.Parallel()
	src, _ := randomFile(t, 2<<20)
	tok := startReceiver(t, "--token", "right")
	small := startReceiver(t, "--token", "right", "--max-size", "1MiB")
	for _, c := range []struct {
		r           receiver
		token, want string
	}{
		{tok, "wrong", "wrong token"},
		{tok, "", "no token"},
		{small, "right", "limit"},
	} {
		code, out, _ := run(t, "push", src, "--to", c.r.addr, "--token", c.token, "--listen", "127.0.0.1:0")
		if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, c.want) {
			t.Errorf("token %q to %s: exit %d, want 1 and %q in:\n%s", c.token, c.r.addr, code, c.want, out)
		}
	}
	for _, r := range []receiver{tok, small} {
		if ents, _ := os.ReadDir(r.dir); len(ents) != 0 {
			t.Errorf("%s holds %v after refusals", r.dir, ents)
		}
	}
}

// TestReceiveNeedsAuth: receive refuses to start without a token unless
// --insecure.
func TestReceiveNeedsAuth(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, "receive", "--listen", "127.0.0.1:0", "--dir", t.TempDir(), "--data", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "insecure") {
		t.Errorf("receive without a token: exit %d, stderr %q", code, errOut)
	}
	code, _, _ = run(t, "push", "--to", "127.0.0.1:1")
	if code != 2 {
		t.Errorf("push without files: exit %d, want 2", code)
	}
}

// TestPushBinary runs receive and push as processes.
func TestPushBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := testbin.Pollen(t)
	addr, dir := freeAddr(t), t.TempDir()
	recv := exec.CommandContext(t.Context(), bin, "receive", "--listen", addr, "--dir", dir, "--data", t.TempDir(),
		"--insecure", "--linger", "1s")
	var recvErr bytes.Buffer
	recv.Stderr = &recvErr
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = recv.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- recv.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("receive after SIGINT: %v\n%s", err, recvErr.String())
			}
		case <-time.After(10 * time.Second):
			_ = recv.Process.Kill()
			t.Errorf("receive did not stop on SIGINT")
		}
	}()
	waitFor(t, "receive process", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	src, data := randomFile(t, 1<<20)
	out, err := exec.CommandContext(t.Context(), bin, "push", src, "--to", addr, "--listen", "127.0.0.1:0").Output()
	if err != nil {
		t.Fatalf("push: %v\n%s\n%s", err, out, stderrOf(err))
	}
	sameFile(t, filepath.Join(dir, "blob.bin"), data)
	if !strings.Contains(string(out), "1 of 1 transfers ok") {
		t.Errorf("push printed:\n%s", out)
	}
}

// TestReceiveRemovesStale starts `pollen receive` on a directory where a
// receiver killed mid-file left its temporary file: it is gone once the
// receiver listens, and a young one stays.
func TestReceiveRemovesStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale, young := filepath.Join(dir, ".pollen-push-0badc0de.tmp"), filepath.Join(dir, ".pollen-push-young.tmp")
	for _, p := range []string{stale, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	startReceiver(t, "--token", "t", "--dir", dir, "--stale-age", "30m")
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file: %v, want it removed", err)
	}
	if _, err := os.Lstat(young); err != nil {
		t.Errorf("young temporary file: %v, want it kept", err)
	}
}
