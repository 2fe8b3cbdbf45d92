// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
)

// Request asks for one object.
type Request struct {
	// URL is the object: http://, https:// or file://.
	URL string `json:"url"`
	// Digest is the expected whole-file SHA-256; zero when unknown. With
	// a digest, downloads of the same object from any URL share a swarm.
	Digest core.Digest `json:"digest,omitzero"`
	// PieceSize overrides the piece size; 0 means Config.PieceSize or
	// chosen from the file size.
	PieceSize int64 `json:"piece_size,omitempty"`
	// PieceDigests, if set, is a manifest: the SHA-256 of every piece, in
	// order, for the piece size the download uses (give PieceSize, or use
	// core.PieceSizeFor(size)); a count that does not match the layout is
	// ErrBadRequest. Every piece, from peers and from
	// the source, is checked against it before it is kept, and the task is
	// identified by it (core.TaskIDForManifest) unless Digest is set. With
	// a manifest and no Digest each byte is hashed once; a Digest adds the
	// running whole-file hash, a second pass.
	PieceDigests []core.Digest `json:"piece_digests,omitempty"`
	// Output is the path the object is exported to once it is complete
	// and verified; it appears atomically, never partial. Empty means keep
	// it in the store only (seeding). Over the local API it must be
	// absolute ([Client.Download] makes it so).
	Output string `json:"output,omitempty"`
	// Window is a stream's memory window in pieces ([Daemon.Stream]); 0
	// means Config.StreamWindow. File-mode downloads ignore it.
	Window int `json:"window,omitempty"`
}

// Transfer states.
const (
	StateRunning  = "running"
	StateDone     = "done"
	StateFailed   = "failed"
	StateCanceled = "canceled"
)

// Progress is a snapshot of one transfer.
type Progress struct {
	Task       core.TaskID      `json:"task"`
	Size       int64            `json:"size"`            // bytes in the object
	PieceSize  int64            `json:"piece_size"`      // bytes per piece
	Done       int64            `json:"done"`            // bytes stored and verified, resumed ones included
	Pieces     int              `json:"pieces"`          // pieces in the object
	PiecesDone int              `json:"pieces_done"`     // pieces stored and verified
	Resumed    int64            `json:"resumed"`         // bytes already stored when the transfer began
	FromSource int64            `json:"from_source"`     // bytes fetched from the origin by this daemon
	FromPeers  int64            `json:"from_peers"`      // bytes fetched from other daemons
	Peers      map[string]int64 `json:"peers,omitempty"` // bytes per parent address
	Rate       float64          `json:"rate"`            // bytes per second over the last seconds
	Elapsed    time.Duration    `json:"elapsed"`
	Sum        core.Digest      `json:"sum,omitzero"` // whole-file SHA-256 once complete
	State      string           `json:"state"`        // StateRunning, StateDone, StateFailed, StateCanceled
	Error      string           `json:"error,omitempty"`
}

// progress is a task's shared progress record. It is safe for concurrent
// use.
type progress struct {
	mu      sync.Mutex // guards the following fields
	size    int64
	psize   int64
	pieces  int
	npieces int
	done    int64
	resumed int64
	source  int64
	peers   int64
	byPeer  map[string]int64
	samples []sample // recent (time, done) points for the rate
}

type sample struct {
	at   time.Time
	done int64
}

// rateWindow is how far back the rate looks.
const rateWindow = 3 * time.Second

func (p *progress) init(l core.Layout, present int, have int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size, p.psize, p.pieces = l.Size, l.PieceSize, l.Pieces()
	p.npieces, p.done, p.resumed = present, have, have
	p.byPeer = map[string]int64{}
	p.samples = []sample{{time.Now(), have}}
}

// add records n verified bytes from parent (or the source).
func (p *progress) add(from string, source bool, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.npieces++
	if source {
		p.source += n
	} else {
		p.peers += n
		p.byPeer[from] += n
	}
	now := time.Now()
	p.samples = append(p.samples, sample{now, p.done})
	k := 0
	for k < len(p.samples)-2 && now.Sub(p.samples[k].at) > rateWindow {
		k++
	}
	p.samples = p.samples[k:]
}

// snapshot fills the counters of pr.
func (p *progress) snapshot(pr *Progress, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.Size, pr.PieceSize, pr.Pieces = p.size, p.psize, p.pieces
	pr.Done, pr.PiecesDone, pr.Resumed = p.done, p.npieces, p.resumed
	pr.FromSource, pr.FromPeers = p.source, p.peers
	pr.Peers = maps.Clone(p.byPeer)
	if len(p.samples) > 0 {
		first := p.samples[0]
		if dt := now.Sub(first.at).Seconds(); dt > 0.05 {
			pr.Rate = float64(p.done-first.done) / dt
		}
	}
}

// Transfer is one download asked of a daemon, in process ([Daemon.Download])
// or through the local API ([Client.Download]). It is safe for concurrent
// use.
type Transfer struct {
	started time.Time
	snap    func(*Progress) // fills the live counters; nil once final
	done    chan struct{}   // closed when the transfer has ended
	stop    context.CancelFunc

	mu    sync.Mutex // guards the following fields
	final Progress   // valid once done is closed (and the last remote update)
	err   error
}

// Progress returns a snapshot of the transfer.
func (tr *Transfer) Progress() Progress {
	select {
	case <-tr.done:
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.final
	default:
	}
	tr.mu.Lock()
	p := tr.final
	tr.mu.Unlock()
	if tr.snap != nil {
		tr.snap(&p)
	}
	p.Peers = maps.Clone(p.Peers)
	return p
}

// Done returns a channel closed when the transfer has ended.
func (tr *Transfer) Done() <-chan struct{} { return tr.done }

// Err returns the transfer's error once it has ended: nil when the object
// is complete, verified and exported.
func (tr *Transfer) Err() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.err
}

// Wait blocks until the transfer ends or ctx is done, and returns
// [Transfer.Err] (or the context's error).
func (tr *Transfer) Wait(ctx context.Context) error {
	select {
	case <-tr.done:
		return tr.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel abandons the transfer and waits until it has ended. The download
// itself stops when no other transfer wants it; its pieces stay stored, so
// asking again resumes. Cancel is idempotent.
func (tr *Transfer) Cancel() {
	tr.stop()
	<-tr.done
}

// end records the outcome and closes done.
func (tr *Transfer) end(p Progress, err error) {
	tr.mu.Lock()
	tr.final, tr.err = p, err
	tr.mu.Unlock()
	close(tr.done)
}
