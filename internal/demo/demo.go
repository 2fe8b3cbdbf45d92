// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/progress"
	"github.com/pollen-dev/pollen/internal/swarmbench"
	"github.com/pollen-dev/pollen/internal/units"
)

// Defaults. With 8 peers and a 256 MiB file the bound is F/u_origin =
// 26.8 s (the peers' sum term is 12.6 s): the origin's link decides, and
// the swarm must forward each piece while the origin is still sending the
// next ones for every peer to finish near it. The rates are this low
// because of the CPU a byte costs, not the links: every daemon hashes what
// it receives twice (the piece's SHA-256 and the whole file's), which
// without SHA instructions in this VM costs about 12 CPU seconds per GiB
// received in all, so the 2 GiB the 8 daemons receive need about 24 CPU
// seconds. Spread over 27 s that leaves the two cores about half idle, so
// the links, not the CPUs, set the time.
const (
	DefaultPeers      = 8
	DefaultSize       = 256 << 20
	DefaultOriginRate = 80e6 / 8  // 80 Mbit/s
	DefaultPeerRate   = 160e6 / 8 // 160 Mbit/s
)

// Config describes a demo run. The zero value runs the defaults.
type Config struct {
	// Peers is the number of daemons. 0 means DefaultPeers.
	Peers int
	// Size is the file's size in bytes. 0 means DefaultSize.
	Size int64
	// OriginRate caps the origin's upload, bytes/s. 0 means
	// DefaultOriginRate.
	OriginRate int64
	// PeerRate caps every daemon's upload, bytes/s. 0 means
	// DefaultPeerRate.
	PeerRate int64
	// PeerDownloadRate caps every daemon's download, bytes/s. 0 means
	// unlimited (the bound's F/d_min term drops).
	PeerDownloadRate int64
	// Dir is where the run's temporary directory is made. Empty means
	// os.TempDir().
	Dir string
	// Progress, if set, shows a progress bar per peer when it is a
	// terminal.
	Progress io.Writer
	// Logger receives the components' logs. Nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Peers == 0 {
		c.Peers = DefaultPeers
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.OriginRate == 0 {
		c.OriginRate = DefaultOriginRate
	}
	if c.PeerRate == 0 {
		c.PeerRate = DefaultPeerRate
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c, with defaults, describes a run.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Peers < 1 || c.Peers > 256:
		return fmt.Errorf("demo: peers %d not in 1..256", c.Peers)
	case c.Size < 1:
		return fmt.Errorf("demo: size %d is not positive", c.Size)
	case c.OriginRate < 0 || c.PeerRate < 0 || c.PeerDownloadRate < 0:
		return errors.New("demo: negative rate")
	}
	return nil
}

// LowerBound returns the fluid lower bound of the run c describes.
func (c Config) LowerBound() time.Duration {
	c = c.withDefaults()
	links := make([]netlab.Link, c.Peers)
	for i := range links {
		links[i] = netlab.Link{Up: units.Rate(c.PeerRate), Down: units.Rate(c.PeerDownloadRate)}
	}
	return swarmbench.LowerBound(units.Size(c.Size), units.Rate(c.OriginRate), links)
}

// Result is what a demo run measured. It marshals to the JSON object of
// `pollen demo --json`.
type Result struct {
	Peers             int     `json:"peers"`
	FileBytes         int64   `json:"file_bytes"`
	PieceBytes        int64   `json:"piece_bytes"`
	OriginRate        int64   `json:"origin_rate_bytes_per_second"`
	PeerRate          int64   `json:"peer_rate_bytes_per_second"`
	PeerDownloadRate  int64   `json:"peer_download_rate_bytes_per_second"` // 0: unlimited
	AllDoneSeconds    float64 `json:"all_done_seconds"`
	LowerBoundSeconds float64 `json:"lower_bound_seconds"`
	// Ratio is AllDoneSeconds / LowerBoundSeconds.
	Ratio             float64 `json:"ratio"`
	OriginBytesServed int64   `json:"origin_bytes_served"`
	// Verified is true when every daemon checked its copy's SHA-256
	// against the file's and every copy, read back from disk after the
	// run, is byte for byte the file the origin served.
	Verified bool         `json:"verified"`
	PerPeer  []PeerResult `json:"per_peer"`
}

// PeerResult is one daemon's part of a run.
type PeerResult struct {
	Peer       int     `json:"peer"`
	Seconds    float64 `json:"seconds"` // from the start to a verified, exported copy
	FromOrigin int64   `json:"from_origin_bytes"`
	FromPeers  int64   `json:"from_peers_bytes"`
	Uploaded   int64   `json:"uploaded_bytes"`
	Verified   bool    `json:"verified"`
}

// Run runs the demo cfg describes and returns what it measured. A copy
// that does not verify is reported in the Result (Verified false), not as
// an error; errors are failures to run the swarm at all.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dir, err := os.MkdirTemp(cfg.Dir, "pollen-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	f, pieces, err := generate(filepath.Join(dir, "demo.bin"), cfg.Size)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	cfg.Logger.Info("demo: file generated", "bytes", cfg.Size, "dir", dir)

	ctx, cancel := context.WithCancel(ctx)
	sw := &swarm{Swarm: NewSwarm(cfg.Logger)}
	defer sw.Stop(cancel)
	if err := sw.start(ctx, cfg, dir, f); err != nil {
		return nil, err
	}
	return sw.distribute(ctx, cfg, dir, pieces)
}

// swarm is the demo's origin and the scheduler and daemons it feeds.
type swarm struct {
	*Swarm
	origin *origin
}

func (sw *swarm) start(ctx context.Context, cfg Config, dir string, f *os.File) error {
	var err error
	if sw.origin, err = newOrigin(f, cfg.OriginRate); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	sw.Go(ctx, "origin", sw.origin.serve)
	err = sw.Start(ctx, cfg.Peers, func(i int) daemon.Config {
		return daemon.Config{
			DataDir:      filepath.Join(dir, "peer"+strconv.Itoa(i+1)),
			Listen:       "127.0.0.1:0",
			UploadRate:   cfg.PeerRate,
			DownloadRate: cfg.PeerDownloadRate,
		}
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	sw.log.Info("demo: swarm ready", "peers", cfg.Peers, "origin", sw.origin.url(), "scheduler", sw.SchedulerAddr)
	return nil
}

// distribute has every daemon download the file at once, follows their
// progress, and verifies the copies.
func (sw *swarm) distribute(ctx context.Context, cfg Config, dir string, pieces manifest) (*Result, error) {
	bars := progress.New(ctx, progressWriter(cfg.Progress))
	defer bars.Wait()
	res := &Result{
		Peers:             cfg.Peers,
		FileBytes:         cfg.Size,
		OriginRate:        cfg.OriginRate,
		PeerRate:          cfg.PeerRate,
		PeerDownloadRate:  cfg.PeerDownloadRate,
		LowerBoundSeconds: cfg.LowerBound().Seconds(),
		PerPeer:           make([]PeerResult, cfg.Peers),
	}
	outs := make([]string, cfg.Peers)
	trs := make([]*daemon.Transfer, cfg.Peers)
	ended := make([]time.Duration, cfg.Peers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer func() {
		for _, tr := range trs {
			if tr != nil {
				tr.Cancel()
			}
		}
	}()
	start := time.Now()
	for i, d := range sw.Daemons {
		outs[i] = filepath.Join(dir, "copy"+strconv.Itoa(i+1))
		// The manifest the demo computed while generating the file is the
		// trusted reference: every piece a daemon keeps, from a peer or from
		// the origin, is checked against it, so each byte is hashed once per
		// peer (a whole-file digest would add a second, sequential pass).
		tr, err := d.Download(ctx, daemon.Request{URL: sw.origin.url(), PieceSize: pieces.size, PieceDigests: pieces.digests, Output: outs[i]})
		if err != nil {
			return nil, fmt.Errorf("demo: peer %d: %w", i+1, err)
		}
		trs[i] = tr
		bar := bars.Add(fmt.Sprintf("peer %d", i+1), cfg.Size)
		wg.Go(func() {
			bar.Follow(ctx, tr.Done(), func() (int64, int64) {
				p := tr.Progress()
				return p.Done, p.Size
			})
			<-tr.Done()
			ended[i] = time.Since(start)
			if tr.Err() == nil {
				bar.Done(cfg.Size)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	var failures []error
	for i, tr := range trs {
		p := tr.Progress()
		if res.PieceBytes == 0 {
			res.PieceBytes = p.PieceSize
		}
		res.PerPeer[i] = PeerResult{
			Peer:       i + 1,
			Seconds:    ended[i].Seconds(),
			FromOrigin: p.FromSource,
			FromPeers:  p.FromPeers,
			Uploaded:   int64(sw.Daemons[i].Stats().BytesUploaded),
		}
		res.AllDoneSeconds = max(res.AllDoneSeconds, ended[i].Seconds())
		if err := tr.Err(); err != nil {
			failures = append(failures, fmt.Errorf("peer %d: %w", i+1, err))
		}
	}
	res.OriginBytesServed = sw.origin.served.Load()
	if res.LowerBoundSeconds > 0 {
		res.Ratio = res.AllDoneSeconds / res.LowerBoundSeconds
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("demo: %w", errors.Join(failures...))
	}
	sw.log.Info("demo: all done", "seconds", res.AllDoneSeconds, "bound", res.LowerBoundSeconds)
	res.Verified = true
	for i, ok := range verify(ctx, outs, sw.origin.file, cfg.Size) {
		res.PerPeer[i].Verified = ok
		res.Verified = res.Verified && ok
	}
	return res, nil
}

// progressWriter returns w, or io.Discard for none.
func progressWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// manifest is the trusted list of piece digests of the generated file.
type manifest struct {
	size    int64 // piece size
	digests []core.Digest
}

// generate writes size pseudo-random bytes to path and returns the file,
// open for reading, and the SHA-256 of each of its pieces, computed as the
// bytes are written.
func generate(path string, size int64) (*os.File, manifest, error) {
	m := manifest{size: core.PieceSizeFor(size)}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, m, fmt.Errorf("demo: %w", err)
	}
	ph := &pieceHasher{size: m.size, h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(f, ph), 1<<20)
	var seed [32]byte
	for i := range 4 {
		v := rand.Uint64()
		for k := range 8 {
			seed[i*8+k] = byte(v >> (8 * k))
		}
	}
	_, err = io.CopyN(bw, rand.NewChaCha8(seed), size)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = f.Close()
		return nil, m, fmt.Errorf("demo: write %s: %w", path, err)
	}
	m.digests = ph.finish()
	return f, m, nil
}

// pieceHasher is an io.Writer that hashes its input piece by piece.
type pieceHasher struct {
	size int64     // piece size
	h    hash.Hash // the current piece's hash
	n    int64     // bytes of the current piece hashed so far
	sums []core.Digest
}

func (p *pieceHasher) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		k := min(int64(len(b)), p.size-p.n)
		p.h.Write(b[:k])
		p.n += k
		b = b[k:]
		if p.n == p.size {
			p.cut()
		}
	}
	return total, nil
}

func (p *pieceHasher) cut() {
	var d core.Digest
	copy(d[:], p.h.Sum(nil))
	p.sums = append(p.sums, d)
	p.h.Reset()
	p.n = 0
}

// finish closes the last, possibly short, piece and returns the digests.
func (p *pieceHasher) finish() []core.Digest {
	if p.n > 0 {
		p.cut()
	}
	return p.sums
}

// verify reads every copy back and reports which are byte for byte the
// file the origin served (each of whose pieces the daemons checked against
// the demo's manifest as it arrived), two at a time. Comparing, rather than hashing again, keeps the
// check independent of the daemons' hashing and cheap.
func verify(ctx context.Context, paths []string, orig *os.File, size int64) []bool {
	ok := make([]bool, len(paths))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok[i] = ctx.Err() == nil && sameContent(path, orig, size)
		})
	}
	wg.Wait()
	return ok
}

// sameContent reports whether the file at path holds exactly the size
// bytes of orig.
func sameContent(path string, orig *os.File, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		return false
	}
	const block = 1 << 20
	a, b := make([]byte, block), make([]byte, block)
	for off := int64(0); off < size; off += block {
		n := int(min(block, size-off))
		if _, err := f.ReadAt(a[:n], off); err != nil {
			return false
		}
		if _, err := orig.ReadAt(b[:n], off); err != nil {
			return false
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return false
		}
	}
	return true
}
