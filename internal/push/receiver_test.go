// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
)

const token = "s3cret-token"

// receive pushes data under name and returns the commit's error.
func receive(t *testing.T, r *push.Receiver, name string, data []byte) error {
	t.Helper()
	f, err := r.Create(name, int64(len(data)), core.DigestOf(data))
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	d, err := f.Commit()
	if err == nil && d != core.DigestOf(data) {
		t.Fatalf("Commit digest %v", d)
	}
	return err
}

func TestPlaceNested(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		_, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		data := []byte("hello, receivers")
		must(t, receive(t, r, "a/b/c.txt", data))
		must(t, receive(t, r, "top.bin", nil))
		must(t, receive(t, r, "a/b/d.txt", data))
		got, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.txt"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("placed file = %q, %v", got, err)
		}
		fi, err := os.Stat(filepath.Join(dir, "a", "b", "c.txt"))
		must(t, err)
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", fi.Mode())
		}
		want := []string{"a/", "a/b/", "a/b/c.txt", "a/b/d.txt", "top.bin"}
		if got := tree(t, dir); !slices.Equal(got, want) {
			t.Fatalf("tree = %q, want %q (no temporary files)", got, want)
		}
		// An existing name is refused unless Overwrite.
		if err := receive(t, r, "a/b/c.txt", []byte("other")); !errors.Is(err, push.ErrExists) {
			t.Fatalf("push over an existing file = %v, want ErrExists", err)
		}
		if err := receive(t, r, "a/b", []byte("other")); !errors.Is(err, push.ErrExists) {
			t.Fatalf("push over a directory = %v, want ErrExists", err)
		}
		if err := receive(t, r, "top.bin/x", []byte("other")); !errors.Is(err, push.ErrExists) {
			t.Fatalf("push under a file = %v, want ErrExists", err)
		}
		ow := openReceiver(t, open, push.Config{Dir: dir, Token: token, Overwrite: true})
		must(t, receive(t, ow, "a/b/c.txt", []byte("new")))
		if got, _ := os.ReadFile(filepath.Join(dir, "a", "b", "c.txt")); string(got) != "new" {
			t.Fatalf("overwritten file = %q", got)
		}
		if err := receive(t, ow, "a/b", []byte("other")); !errors.Is(err, push.ErrExists) {
			t.Fatalf("overwrite a directory = %v, want ErrExists", err)
		}
	})
}

// Every escaping or odd name is refused with a clear error, and nothing
// appears inside or outside the directory.
func TestEscapingNames(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		base, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		before := tree(t, base)
		for _, name := range badNames {
			err := receive(t, r, name, []byte("payload"))
			if !errors.Is(err, push.ErrBadName) || !strings.Contains(err.Error(), "bad file name") {
				t.Errorf("push %q = %v, want ErrBadName", name, err)
			}
		}
		if after := tree(t, base); !slices.Equal(before, after) {
			t.Fatalf("tree changed:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// Links planted inside the directory are never followed: not as a
// directory on the way, not as the file itself.
func TestSymlinksNotFollowed(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		base, dir := setup(t)
		outside := filepath.Join(base, "outside")
		must(t, os.Symlink(outside, filepath.Join(dir, "evil")))
		must(t, os.Symlink("../outside", filepath.Join(dir, "rel")))
		must(t, os.Mkdir(filepath.Join(dir, "inner"), 0o755))
		must(t, os.Symlink("inner", filepath.Join(dir, "inlink"))) // even pointing inside
		must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "secret")))
		must(t, os.Symlink(filepath.Join(outside, "new"), filepath.Join(dir, "dangling")))
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		before := tree(t, base)
		for _, name := range []string{"evil/x", "evil/secret", "rel/x", "inlink/x", "evil/a/b"} {
			err := receive(t, r, name, []byte("pwned"))
			if !errors.Is(err, push.ErrBadName) || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("push %q = %v, want ErrBadName (symbolic link)", name, err)
			}
		}
		for _, name := range []string{"secret", "dangling"} {
			if err := receive(t, r, name, []byte("pwned")); !errors.Is(err, push.ErrExists) {
				t.Errorf("push onto link %q = %v, want ErrExists", name, err)
			}
		}
		if after := tree(t, base); !slices.Equal(before, after) {
			t.Fatalf("tree changed:\nbefore %q\nafter  %q", before, after)
		}
		// With Overwrite the link itself is replaced; its target is not
		// touched.
		ow := openReceiver(t, open, push.Config{Dir: dir, Token: token, Overwrite: true})
		must(t, receive(t, ow, "secret", []byte("mine")))
		must(t, receive(t, ow, "dangling", []byte("mine")))
		if got, _ := os.ReadFile(filepath.Join(outside, "secret")); string(got) != "secret" {
			t.Fatalf("link target changed to %q", got)
		}
		if _, err := os.Lstat(filepath.Join(outside, "new")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("dangling link target created: %v", err)
		}
		if fi, _ := os.Lstat(filepath.Join(dir, "secret")); !fi.Mode().IsRegular() {
			t.Fatalf("secret is %v, want a regular file", fi.Mode())
		}
	})
}

// Sizes are bounded before a byte is written; bytes past the announced
// size, a short file and a wrong digest leave nothing.
func TestSizeAndDigest(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		_, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token, MaxSize: 100})
		data := bytes.Repeat([]byte("x"), 100)
		if _, err := r.Create("big", 101, core.DigestOf(data)); !errors.Is(err, push.ErrTooLarge) {
			t.Fatalf("Create(101 bytes) = %v, want ErrTooLarge", err)
		}
		if _, err := r.Create("neg", -1, core.DigestOf(data)); !errors.Is(err, push.ErrBadOffer) {
			t.Fatalf("Create(-1 bytes) = %v, want ErrBadOffer", err)
		}
		if _, err := r.Create("nodigest", 1, core.Digest{}); !errors.Is(err, push.ErrBadOffer) {
			t.Fatalf("Create(zero digest) = %v, want ErrBadOffer", err)
		}
		f, err := r.Create("over", 10, core.DigestOf(data[:10]))
		must(t, err)
		if _, err := f.Write(data[:8]); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data[:3]); !errors.Is(err, push.ErrTooLarge) {
			t.Fatalf("write past the announced size = %v", err)
		}
		if _, err := f.Commit(); !errors.Is(err, push.ErrTooLarge) {
			t.Fatalf("Commit after the overrun = %v", err)
		}
		f, err = r.Create("short", 10, core.DigestOf(data[:10]))
		must(t, err)
		must2(t)(f.Write(data[:9]))
		if _, err := f.Commit(); !errors.Is(err, push.ErrSize) {
			t.Fatalf("Commit of a short file = %v, want ErrSize", err)
		}
		f, err = r.Create("wrong", 10, core.DigestOf(data[:10]))
		must(t, err)
		must2(t)(f.Write([]byte("0123456789")))
		_, err = f.Commit()
		var de *push.DigestError
		if !errors.As(err, &de) || !errors.Is(err, push.ErrDigest) || de.Want != core.DigestOf(data[:10]) {
			t.Fatalf("Commit of a wrong file = %v, want *DigestError", err)
		}
		f, err = r.Create("aborted", 10, core.DigestOf(data[:10]))
		must(t, err)
		must2(t)(f.Write(data[:5]))
		must(t, f.Abort())
		must(t, f.Abort())
		// ReadFrom takes a reader of the right length.
		f, err = r.Create("copied", 100, core.DigestOf(data))
		must(t, err)
		if n, err := f.ReadFrom(bytes.NewReader(data)); n != 100 || err != nil {
			t.Fatalf("ReadFrom = %d, %v", n, err)
		}
		if _, err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); !errors.Is(err, push.ErrClosed) {
			t.Fatalf("Write after Commit = %v", err)
		}
		f, err = r.Create("copied-long", 10, core.DigestOf(data[:10]))
		must(t, err)
		if _, err := f.ReadFrom(bytes.NewReader(data)); !errors.Is(err, push.ErrTooLarge) {
			t.Fatalf("ReadFrom of too much = %v", err)
		}
		if got := tree(t, dir); !slices.Equal(got, []string{"copied"}) {
			t.Fatalf("tree = %q, want only the good file", got)
		}
	})
}

// enospcWriter fails with ENOSPC after limit bytes.
type enospcWriter struct {
	w     io.Writer
	limit int
}

func (e *enospcWriter) Write(p []byte) (int, error) {
	if len(p) > e.limit {
		n, _ := e.w.Write(p[:e.limit])
		e.limit = 0
		return n, &os.PathError{Op: "write", Path: "tmp", Err: syscall.ENOSPC}
	}
	e.limit -= len(p)
	return e.w.Write(p)
}

// A full disk, injected into the writer, is ErrDiskFull and leaves no
// file.
func TestDiskFullInjected(t *testing.T) {
	impls(t, func(t *testing.T, open func(push.Config) (*push.Receiver, error)) {
		_, dir := setup(t)
		r := openReceiver(t, open, push.Config{Dir: dir, Token: token})
		data := bytes.Repeat([]byte("y"), 4096)
		f, err := r.Create("sub/full.bin", int64(len(data)), core.DigestOf(data))
		must(t, err)
		f.WrapWriter(func(w io.Writer) io.Writer { return &enospcWriter{w: w, limit: 1000} })
		_, err = f.Write(data)
		if !errors.Is(err, push.ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Write on a full disk = %v, want ErrDiskFull", err)
		}
		if _, err := f.Commit(); !errors.Is(err, push.ErrDiskFull) {
			t.Fatalf("Commit after disk full = %v", err)
		}
		if got := tree(t, dir); !slices.Equal(got, []string{"sub/"}) {
			t.Fatalf("tree = %q, want no file", got)
		}
		res := push.NewResult(&push.Offer{Name: "sub/full.bin"}, core.Digest{}, 1000, 0, 0, err)
		if res.Code != push.CodeDiskFull || !errors.Is(res.Err(), push.ErrDiskFull) {
			t.Fatalf("result %+v does not report disk full", res)
		}
	})
}

func TestAuth(t *testing.T) {
	_, dir := setup(t)
	if _, err := push.New(push.Config{Dir: dir}); !errors.Is(err, push.ErrNoAuth) {
		t.Fatalf("New without a token = %v, want ErrNoAuth", err)
	}
	if _, err := push.New(push.Config{Token: token}); !errors.Is(err, push.ErrConfig) {
		t.Fatalf("New without a dir = %v, want ErrConfig", err)
	}
	if _, err := push.New(push.Config{Dir: filepath.Join(dir, "missing"), Token: token}); err == nil {
		t.Fatal("New on a missing dir succeeded")
	}
	if err := (push.Config{Dir: dir, Token: strings.Repeat("t", 256)}).Validate(); !errors.Is(err, push.ErrConfig) {
		t.Fatalf("256-byte token = %v", err)
	}
	r := openReceiver(t, push.New, push.Config{Dir: dir, Token: token})
	for _, bad := range []string{"", "s3cret", token + "x", strings.ToUpper(token)} {
		if err := r.Authorize(bad, nil); !errors.Is(err, push.ErrUnauthorized) {
			t.Errorf("Authorize(%q) = %v", bad, err)
		}
	}
	must(t, r.Authorize(token, nil))
	if _, err := r.Accept(&push.Offer{Name: "x", Token: "nope", Layout: core.Layout{Size: 1, PieceSize: 1}, Digest: core.DigestOf([]byte("x"))}, nil); !errors.Is(err, push.ErrUnauthorized) {
		t.Fatalf("Accept with a wrong token = %v", err)
	}
	if got := tree(t, dir); len(got) != 0 {
		t.Fatalf("unauthorized offer left %q", got)
	}

	open, err := push.New(push.Config{Dir: dir, Insecure: true})
	must(t, err)
	defer func() { must(t, open.Close()) }()
	must(t, open.Authorize("", nil))
	must(t, open.Authorize("anything", nil))

	// The mutual-TLS hook: a verified peer needs no token.
	mtls, err := push.New(push.Config{Dir: dir, VerifyPeer: func(cs tls.ConnectionState) error {
		if cs.ServerName != "pusher" {
			return errors.New("unknown peer")
		}
		return nil
	}})
	must(t, err)
	defer func() { must(t, mtls.Close()) }()
	must(t, mtls.Authorize("", &tls.ConnectionState{ServerName: "pusher"}))
	if err := mtls.Authorize("", &tls.ConnectionState{ServerName: "mallory"}); !errors.Is(err, push.ErrUnauthorized) {
		t.Fatalf("unverified peer = %v", err)
	}
	if err := mtls.Authorize("", nil); !errors.Is(err, push.ErrUnauthorized) {
		t.Fatalf("no TLS = %v", err)
	}
}

func TestClosedReceiver(t *testing.T) {
	_, dir := setup(t)
	r, err := push.New(push.Config{Dir: dir, Token: token})
	must(t, err)
	f, err := r.Create("late", 1, core.DigestOf([]byte("x")))
	must(t, err)
	must(t, r.Close())
	must(t, r.Close())
	if _, err := r.Create("x", 1, core.DigestOf([]byte("x"))); !errors.Is(err, push.ErrClosed) {
		t.Fatalf("Create after Close = %v", err)
	}
	must2(t)(f.Write([]byte("x")))
	if _, err := f.Commit(); err != nil {
		t.Fatalf("Commit of a file created before Close = %v", err)
	}
}
