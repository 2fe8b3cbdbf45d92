// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/piece"
)

// manifestOf returns the SHA-256 of every pieceSize piece of data.
func manifestOf(data []byte, pieceSize int) []core.Digest {
	var m []core.Digest
	for off := 0; off < len(data); off += pieceSize {
		m = append(m, core.DigestOf(data[off:min(off+pieceSize, len(data))]))
	}
	return m
}

// TestManifest: daemons given per-piece digests (and no whole-file digest)
// share one swarm, verify every piece against the manifest, and export the
// right bytes; a manifest of the wrong length is refused; a manifest the
// origin's bytes do not match fails the download with no output.
func TestManifest(t *testing.T) {
	const peers, ps = 3, 256 << 10
	data := genData(4<<20+1000, 5)
	manifest := manifestOf(data, ps)
	o := newOrigin(t, data)
	ss := startScheduler(t, patientScheduler(), "")
	var ds []*daemon.Daemon
	for range peers {
		ds = append(ds, startDaemon(t, patient(baseConfig(t, ss.addr))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	outs := make([]string, peers)
	progs := make([]daemon.Progress, peers)
	errs := make([]error, peers)
	for i, d := range ds {
		outs[i] = filepath.Join(t.TempDir(), "out")
		wg.Go(func() {
			tr, err := d.Download(ctx, daemon.Request{URL: o.url(), PieceSize: ps, PieceDigests: manifest, Output: outs[i]})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = tr.Wait(ctx)
			progs[i] = tr.Progress()
		})
	}
	wg.Wait()
	var fromPeers int64
	for i := range ds {
		if errs[i] != nil {
			t.Fatalf("daemon %d: %v", i, errs[i])
		}
		checkFile(t, outs[i], data)
		if progs[i].Task != core.TaskIDForManifest(manifest, ps) {
			t.Errorf("daemon %d: task %s, want the manifest's id", i, progs[i].Task)
		}
		fromPeers += progs[i].FromPeers
	}
	if served := o.served.Load(); served > int64(len(data))*11/10 {
		t.Errorf("origin served %d bytes, more than 1.1x the %d-byte file", served, len(data))
	}
	t.Logf("origin served %d bytes; peers moved %d", o.served.Load(), fromPeers)

	if _, err := ds[0].Download(ctx, daemon.Request{URL: o.url(), PieceSize: ps, PieceDigests: manifest[1:]}); !errors.Is(err, daemon.ErrBadRequest) {
		t.Fatalf("manifest one piece short: %v, want ErrBadRequest", err)
	}

	// A manifest that the origin's piece 2 does not match: the piece is
	// never kept, the download fails, no output appears.
	bad := append([]core.Digest(nil), manifest...)
	bad[2] = core.DigestOf([]byte("not piece 2"))
	d := startDaemon(t, baseConfig(t, ""))
	out := filepath.Join(t.TempDir(), "bad")
	tr, err := d.Download(ctx, daemon.Request{URL: o.url(), PieceSize: ps, PieceDigests: bad, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Wait(ctx)
	var dm *piece.DigestMismatchError
	if !errors.As(err, &dm) || dm.Piece != 2 || dm.Want != bad[2] {
		t.Fatalf("download against a bad manifest: %v, want a mismatch of piece 2", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output exists after a failed download: %v", err)
	}
}

// TestExportByLink: with Config.ExportByLink the output is the store's
// data file under a second name, with the right bytes.
func TestExportByLink(t *testing.T) {
	data := genData(1<<20+17, 6)
	o := newOrigin(t, data)
	cfg := baseConfig(t, "")
	cfg.ExportByLink = true
	d := startDaemon(t, cfg)
	out, _ := fetch(t, d, daemon.Request{URL: o.url(), Digest: digestOf(data)})
	checkFile(t, out, data)
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Nlink != 2 {
		t.Fatalf("output has %v links, want 2 (the store's data file and the output)", fi.Sys())
	}
}
