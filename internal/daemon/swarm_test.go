// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/daemon"
)

// TestSwarm is the end-to-end test: a real scheduler, an HTTP origin and
// four daemons on loopback all get a 16 MiB file; every copy matches and
// the origin serves about one copy, the rest going peer to peer.
func TestSwarm(t *testing.T) {
	const peers = 4
	data := genData(16<<20, 2)
	o := newOrigin(t, data)
	ss := startScheduler(t, patientScheduler(), "")
	var ds []*daemon.Daemon
	for range peers {
		ds = append(ds, startDaemon(t, patient(baseConfig(t, ss.addr))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	outs := make([]string, peers)
	progs := make([]daemon.Progress, peers)
	errs := make([]error, peers)
	start := time.Now()
	for i, d := range ds {
		outs[i] = filepath.Join(t.TempDir(), "out")
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr, err := d.Download(ctx, daemon.Request{URL: o.url(), Digest: digestOf(data), Output: outs[i]})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = tr.Wait(ctx)
			progs[i] = tr.Progress()
		}()
	}
	wg.Wait()
	var fromPeers int64
	for i := range ds {
		if errs[i] != nil {
			t.Fatalf("daemon %d: %v", i, errs[i])
		}
		checkFile(t, outs[i], data)
		fromPeers += progs[i].FromPeers
		t.Logf("daemon %d: source %d peers %d in %v", i, progs[i].FromSource, progs[i].FromPeers, progs[i].Elapsed)
	}
	served := o.served.Load()
	t.Logf("all done in %v; origin served %d bytes (%.2fx), peers moved %d; scheduler %+v",
		time.Since(start), served, float64(served)/float64(len(data)), fromPeers, ss.s.Stats())
	if served > int64(len(data))*11/10 {
		t.Fatalf("origin served %d bytes, more than 1.1x the %d-byte file", served, len(data))
	}
	// Every piece is reported to the scheduler, almost all of them inside
	// the RequestPieces that asks for the slot the piece freed (the last
	// report may still be on its way when the downloads end).
	pieces := uint64(peers * (len(data) / (256 << 10)))
	st := ss.s.Stats()
	for deadline := time.Now().Add(5 * time.Second); st.PiecesDone < pieces && time.Now().Before(deadline); st = ss.s.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.PiecesDone != pieces || st.DoneInRequests < pieces/2 {
		t.Errorf("scheduler counted %d pieces done (%d of them reported inside requests, %d PieceDone messages), want %d, most inside requests",
			st.PiecesDone, st.DoneInRequests, st.DoneReports, pieces)
	}
	var up uint64
	for _, d := range ds {
		up += d.Stats().BytesUploaded
	}
	if up < uint64(fromPeers) {
		t.Fatalf("uploaded %d bytes < %d fetched from peers", up, fromPeers)
	}
}
