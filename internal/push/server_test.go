// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package push_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/push"
	"github.com/pollen-dev/pollen/msg"
)

// startServer runs a push.Server on loopback for dir with token and
// returns its address.
func startServer(t *testing.T, dir, token string) string {
	t.Helper()
	return startServerWith(t, push.Config{Dir: dir, Token: token}, t.TempDir())
}

// startServerIn runs a push.Server for dir with its piece stores in
// dataDir and the tests' token.
func startServerIn(t *testing.T, dir, dataDir string) string {
	t.Helper()
	return startServerWith(t, push.Config{Dir: dir, Token: token}, dataDir)
}

func startServerWith(t *testing.T, cfg push.Config, dataDir string) string {
	t.Helper()
	recv, err := push.New(cfg)
	must(t, err)
	srv, err := push.NewServer(recv, push.ServerConfig{Listen: "127.0.0.1:0", DataDir: dataDir, Linger: time.Second})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
		must(t, srv.Close()) // idempotent after Run's own
		must(t, recv.Close())
	})
	return srv.Addr()
}

// send sends the raw request b to addr and decodes the Result.
func send(t *testing.T, addr string, b []byte) *push.Result {
	t.Helper()
	node, err := msg.NewNode(msg.Config{MaxMessage: push.MaxMessage})
	must(t, err)
	defer func() { _ = node.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	reply, err := node.Send(ctx, "tcp://"+addr, b)
	must(t, err)
	m, err := push.Decode(reply)
	must(t, err)
	res, ok := m.(*push.Result)
	if !ok {
		t.Fatalf("reply is a %v", m.Type())
	}
	return res
}

// TestServerRefuses sends hand-made offers that must be refused before
// any transfer: names that escape, a wrong token, a size over the limit,
// and requests that are not offers. Nothing appears inside or outside
// the directory.
func TestServerRefuses(t *testing.T) {
	base, dir := setup(t)
	before := tree(t, base)
	addr := startServer(t, dir, "tok")
	digest := core.DigestOf([]byte("x"))
	offer := func(name, token string, size int64) []byte {
		o := &push.Offer{
			Task: core.TaskIDForDigest(digest, core.MinPieceSize), Name: name, Token: token,
			Layout: core.Layout{Size: size, PieceSize: core.MinPieceSize}, Digest: digest,
			Scheduler: "127.0.0.1:1", Source: "http://127.0.0.1:1/x",
		}
		b, err := o.Append(nil)
		must(t, err)
		return b
	}
	result, err := (&push.Result{Code: push.CodeOK, Digest: digest, Name: "x"}).Append(nil)
	must(t, err)
	for _, c := range []struct {
		what string
		req  []byte
		code push.Code
	}{
		{"dot-dot", offer("../outside/secret", "tok", 1), push.CodeBadName},
		{"nested dot-dot", offer("a/../../escape", "tok", 1), push.CodeBadName},
		{"absolute", offer("/etc/passwd", "tok", 1), push.CodeBadName},
		{"wrong token", offer("ok.bin", "nope", 1), push.CodeUnauthorized},
		{"too large", offer("big.bin", "tok", push.DefaultMaxSize+1), push.CodeTooLarge},
		{"not an offer", result, push.CodeBadOffer},
		{"garbage", []byte{1, 2, 3}, push.CodeBadOffer},
	} {
		res := send(t, addr, c.req)
		if res.Code != c.code {
			t.Errorf("%s: code %v (%q), want %v", c.what, res.Code, res.Text, c.code)
		}
	}
	if after := tree(t, base); !slices.Equal(before, after) {
		t.Errorf("tree changed:\nbefore %q\nafter  %q", before, after)
	}
}

// TestServerAwait checks the two steps of an offer: a valid offer is
// answered at once with CodeAccepted, and its verdict (here a fetch
// failure: the source does not exist) is the answer to an Await. An Await
// with a wrong token, or for a file never offered, gets a refusal; no
// file appears.
func TestServerAwait(t *testing.T) {
	base, dir := setup(t)
	before := tree(t, base)
	addr := startServer(t, dir, "tok")
	digest := core.DigestOf([]byte("x"))
	task := core.TaskIDForDigest(digest, core.MinPieceSize)
	enc := func(m push.Message) []byte {
		b, err := m.Append(nil)
		must(t, err)
		return b
	}
	offer := &push.Offer{
		Task: task, Name: "gone.bin", Token: "tok", Layout: core.Layout{Size: 1, PieceSize: core.MinPieceSize}, Digest: digest,
		Scheduler: "127.0.0.1:1", Source: "http://127.0.0.1:1/x",
	}
	for _, c := range []struct {
		what string
		req  []byte
		code push.Code
	}{
		{"await before the offer", enc(&push.Await{Task: task, Name: "gone.bin", Token: "tok"}), push.CodeBadOffer},
		{"offer", enc(offer), push.CodeAccepted},
		{"await, wrong token", enc(&push.Await{Task: task, Name: "gone.bin", Token: "nope"}), push.CodeUnauthorized},
		{"await, other name", enc(&push.Await{Task: task, Name: "other.bin", Token: "tok"}), push.CodeBadOffer},
		{"await", enc(&push.Await{Task: task, Name: "gone.bin", Token: "tok"}), push.CodeFetch},
		{"await again", enc(&push.Await{Task: task, Name: "gone.bin", Token: "tok"}), push.CodeFetch},
	} {
		res := send(t, addr, c.req)
		if res.Code != c.code || res.Task != task && c.code != push.CodeBadOffer {
			t.Errorf("%s: code %v (%q), task %q; want %v", c.what, res.Code, res.Text, res.Task, c.code)
		}
	}
	if after := tree(t, base); !slices.Equal(before, after) {
		t.Errorf("tree changed:\nbefore %q\nafter  %q", before, after)
	}
}

// TestPushFiles pushes two files to two servers through push.Push, the
// offers in flight at once: every copy is identical and every report ok.
func TestPushFiles(t *testing.T) {
	src := t.TempDir()
	var files []string
	var contents [][]byte
	for _, name := range []string{"a.bin", "b.bin"} {
		b := make([]byte, 2<<20+12345)
		_, _ = rand.Read(b)
		p := filepath.Join(src, name)
		must(t, os.WriteFile(p, b, 0o644))
		files, contents = append(files, p), append(contents, b)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	addrs := []string{startServer(t, dirs[0], "k"), startServer(t, dirs[1], "k")}
	reports, st, err := push.Push(t.Context(), push.PusherConfig{Files: files, Receivers: addrs, Token: "k", Listen: "127.0.0.1:0"})
	must(t, err)
	if len(reports) != 4 || push.ExitCode(reports) != 0 {
		var buf bytes.Buffer
		_ = push.WriteSummary(&buf, reports)
		t.Fatalf("reports:\n%s", buf.String())
	}
	for _, d := range dirs {
		for i, p := range files {
			got, err := os.ReadFile(filepath.Join(d, filepath.Base(p)))
			must(t, err)
			if !bytes.Equal(got, contents[i]) {
				t.Errorf("%s/%s differs", d, filepath.Base(p))
			}
		}
	}
	// With 9 pieces a file both receivers may take a piece from the
	// origin at once; the 1.3-copy bound is checked with more pieces in
	// internal/cli's TestPushThree. Here: at most a copy per receiver, and
	// one sendfile loop per request.
	if st.Files != 2 || st.Origin.Bytes > 2*st.Bytes+64 || st.Origin.Sends > st.Origin.Requests {
		t.Errorf("stats %+v: more than a copy per receiver, or more sends than requests", st)
	}
}
