// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/source"
	"github.com/pollen-dev/pollen/internal/stream"
)

// Config configures a [Daemon]. It is plain data: internal/config fills it
// from flags, POLLEN_* variables and the YAML file. The zero value of every
// field but DataDir means "default".
type Config struct {
	// DataDir holds the piece store (DataDir/tasks) and the daemon's
	// identity (DataDir/peer-id). Required.
	DataDir string

	// Listen is the TCP address peers fetch pieces from, host:port. Empty
	// means "127.0.0.1:0" (a free loopback port; see [Daemon.PeerAddr]).
	Listen string

	// Advertise is the host:port announced to the scheduler as where this
	// daemon serves pieces. Empty means the listen address, with an
	// unspecified host (0.0.0.0, ::) replaced by the local address that
	// routes to the scheduler.
	Advertise string

	// Socket is the path of the local API's Unix socket (mode 0600). Empty
	// means no local API.
	Socket string

	// Scheduler is the scheduler's address, host:port. Empty means no
	// scheduler unless LookupScheduler finds one: every piece then comes
	// from the source.
	Scheduler string

	// LookupScheduler, if set and Scheduler is empty, is called to find the
	// scheduler's host:port (the hook for msg's name lookup). An error means
	// "no scheduler now"; it is called again at the next reconnect.
	LookupScheduler func(ctx context.Context) (string, error)

	// Token is the secret shared with the scheduler (Register.Token).
	Token string

	// UploadRate and DownloadRate cap the daemon's piece traffic in bytes
	// per second, over all tasks; 0 means unlimited. They are enforced at
	// piece granularity: a piece waits for its whole length in tokens and
	// then moves in one system call.
	UploadRate, DownloadRate int64

	// Quota bounds the bytes the piece store holds; finished tasks not in
	// use are collected least recently used first. 0 means no quota.
	Quota int64

	// ExportByLink makes a download's output a hard link to the task's
	// data file in the store (same file system only) instead of a copy:
	// instant, and no second write and fsync of the whole file. The output
	// then shares its inode with what the daemon seeds: writing to it
	// would make the daemon serve wrong bytes (peers reject them, but it
	// is wasted work), so it suits outputs that are only read, such as
	// `pollen demo`'s copies. A failed link is an error, not a copy.
	ExportByLink bool

	// PieceSize overrides the piece size chosen from the file size
	// (core.PieceSizeFor). 0 means choose.
	PieceSize int64

	// Concurrency is how many pieces of one task are fetched at once. 0
	// means 8.
	Concurrency int

	// SourceConcurrency bounds the pieces of one task fetched from the
	// source at once when the daemon goes there on its own (no scheduler,
	// or every parent failed). 0 means 4.
	SourceConcurrency int

	// StreamWindow is the memory window of a stream-mode download in
	// pieces ([Daemon.Stream]; Request.Window overrides it): at most this
	// many pieces are held, so a stream's memory is about StreamWindow ×
	// piece size. 0 means stream.WindowFor the task's piece size: 16
	// pieces, and more of pieces under 256 KiB, to hold at least 4 MiB.
	StreamWindow int

	// StreamLinger is how long a finished stream keeps its window and
	// serves it to the peers streaming the same task before it leaves the
	// task. 0 means 30s.
	StreamLinger time.Duration

	// UploadSlots bounds the pieces served to peers at once; a GetPiece
	// beyond it is answered Miss{busy}. 0 means 16.
	UploadSlots int

	// PieceTimeout bounds one attempt to fetch a piece from one parent. 0
	// means 30s.
	PieceTimeout time.Duration

	// SchedulerTimeout bounds one request to the scheduler (a long poll
	// gets its wait on top). 0 means 5s.
	SchedulerTimeout time.Duration

	// ReconnectInterval is how often a task that went back to the source
	// because the scheduler was unreachable tries it again. 0 means 5s.
	ReconnectInterval time.Duration

	// StallTimeout is how long a task may go without a piece in flight or
	// completed while the scheduler assigns nothing before the daemon
	// fetches from the source on its own (until the scheduler assigns
	// again). It keeps a scheduler policy gap from stalling a download.
	// 0 means 10s.
	StallTimeout time.Duration

	// RetransmitInterval is msg's retransmission interval for the daemon's
	// node; it decides how fast a dead parent or scheduler is noticed
	// (about 3 intervals). 0 means 3s.
	//
	// Not msg's 1s: a parent answers a retransmitted GetPiece ("pending")
	// on the connection that carries the pieces it sends to the child, so
	// on a busy link the answer queues behind up to a few pieces' bytes. A
	// second unanswered interval makes msg replace the connection, which
	// aborts every piece moving on it; with 1s that happened to 4-11 of the
	// 4096 piece fetches of a 16-peer swarm at 25 Mbit/s (256 KiB pieces),
	// each a wasted partial upload and, near the end, a straggler. msg
	// now keeps a connection on which bytes still arrive, which removes
	// that cause; 3s, as measured, also keeps the retransmissions and
	// their answers off busy links.
	RetransmitInterval time.Duration

	// GCInterval is how often the store is brought within its quota. 0
	// means 1 minute.
	GCInterval time.Duration

	// Source configures origin access (retries, stall timeout).
	Source source.Config

	// FS is the piece store's file system. Nil means piece.OS; tests pass
	// a fault-injecting one.
	FS piece.FS
}

// Defaults.
const (
	defaultListen            = "127.0.0.1:0"
	defaultConcurrency       = 8
	defaultSourceConcurrency = 4
	defaultUploadSlots       = 16
	defaultPieceTimeout      = 30 * time.Second
	defaultSchedulerTimeout  = 5 * time.Second
	defaultReconnect         = 5 * time.Second
	defaultRetransmit        = 3 * time.Second
	defaultStall             = 10 * time.Second
	defaultGCInterval        = time.Minute
	defaultStreamLinger      = 30 * time.Second
	// waitMillis is the long-poll wait of a RequestPieces.
	waitMillis = 2000
)

func (c Config) withDefaults() Config {
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	defInt(&c.Concurrency, defaultConcurrency)
	defInt(&c.SourceConcurrency, defaultSourceConcurrency)
	defInt(&c.UploadSlots, defaultUploadSlots)
	defDur(&c.PieceTimeout, defaultPieceTimeout)
	defDur(&c.SchedulerTimeout, defaultSchedulerTimeout)
	defDur(&c.ReconnectInterval, defaultReconnect)
	defDur(&c.RetransmitInterval, defaultRetransmit)
	defDur(&c.StallTimeout, defaultStall)
	defDur(&c.GCInterval, defaultGCInterval)
	defDur(&c.StreamLinger, defaultStreamLinger)
	if c.FS == nil {
		c.FS = piece.OS
	}
	c.SourceConcurrency = min(c.SourceConcurrency, c.Concurrency)
	return c
}

// Validate reports a configuration the daemon cannot run with.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("daemon: config: "+format, args...)) }
	if c.DataDir == "" {
		bad("DataDir is required")
	} else if !filepath.IsAbs(c.DataDir) {
		if _, err := filepath.Abs(c.DataDir); err != nil {
			bad("DataDir: %v", err)
		}
	}
	for name, addr := range map[string]string{"Listen": c.Listen, "Advertise": c.Advertise, "Scheduler": c.Scheduler} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s %q: %v", name, addr, err)
		}
	}
	if c.UploadRate < 0 || c.DownloadRate < 0 || c.Quota < 0 {
		bad("negative UploadRate, DownloadRate or Quota")
	}
	if c.PieceSize < 0 || c.PieceSize > core.MaxPieceSize {
		bad("PieceSize %d outside [0, %d]", c.PieceSize, core.MaxPieceSize)
	}
	if c.Concurrency < 0 || c.SourceConcurrency < 0 || c.UploadSlots < 0 || c.Concurrency > 1024 || c.UploadSlots > 1024 {
		bad("Concurrency, SourceConcurrency and UploadSlots must be in [0, 1024]")
	}
	if c.StreamWindow < 0 || c.StreamWindow > stream.MaxWindow {
		bad("StreamWindow %d outside [0, %d]", c.StreamWindow, stream.MaxWindow)
	}
	if c.PieceTimeout < 0 || c.SchedulerTimeout < 0 || c.ReconnectInterval < 0 || c.RetransmitInterval < 0 || c.StallTimeout < 0 || c.GCInterval < 0 || c.StreamLinger < 0 {
		bad("negative duration")
	}
	if len(c.Token) > 255 {
		bad("Token longer than 255 bytes")
	}
	if err := c.Source.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
