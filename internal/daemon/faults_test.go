// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/daemon"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/piece/piecetest"
	"github.com/pollen-dev/pollen/internal/proto"
	"github.com/pollen-dev/pollen/internal/scheduler"
	"github.com/pollen-dev/pollen/internal/source"
	"github.com/pollen-dev/pollen/msg"
)

// badSeed is a peer that claims every piece of a task, with the right
// digests, and serves garbage.
type badSeed struct {
	node   *msg.Node
	served atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startBadSeed(t *testing.T, ss *schedServer, id core.TaskID, layout core.Layout, url string, data []byte) *badSeed {
	t.Helper()
	node, err := msg.NewNode(msg.Config{RetransmitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := node.Listen(ctx, "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	b := &badSeed{node: node, cancel: cancel}
	t.Cleanup(func() {
		cancel()
		_ = node.Close()
		b.wg.Wait()
	})
	peer := core.NewPeerID()
	sched := "tcp://" + ss.addr
	call := func(m proto.Message) {
		t.Helper()
		enc, err := m.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := node.Send(ctx, sched, enc)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := proto.Decode(rb); err != nil || r.Type() == proto.TypeError {
			t.Fatalf("bad seed: %v reply %v %v", m.Type(), r, err)
		}
	}
	call(&proto.Register{Peer: peer, Addr: strings.TrimPrefix(node.Addr(), "tcp://")})
	call(&proto.Join{Peer: peer, Task: id, Layout: layout, URL: url})
	done := &proto.PieceDone{Peer: peer, Task: id}
	for i := range layout.Pieces() {
		r := layout.Piece(core.PieceIndex(i))
		done.Pieces = append(done.Pieces, proto.DonePiece{Index: core.PieceIndex(i), Digest: core.DigestOf(data[r.Off:r.End()])})
	}
	call(done)
	b.wg.Add(2)
	go func() { // heartbeats
		defer b.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		hb, _ := (&proto.Heartbeat{Peer: peer}).Append(nil)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = node.Send(ctx, sched, hb)
			}
		}
	}()
	go func() { // serve garbage
		defer b.wg.Done()
		for {
			r, err := node.Receive(ctx)
			if err != nil {
				return
			}
			m, err := proto.Decode(r.Message())
			gp, ok := m.(*proto.GetPiece)
			if err != nil || !ok {
				_ = r.Reply(nil)
				continue
			}
			b.served.Add(1)
			n := layout.Piece(gp.Index).Len
			junk := make([]byte, n)
			copy(junk, data[layout.Piece(gp.Index).Off:])
			junk[n/2] ^= 0xff // one flipped byte is enough
			if err := r.MoveTo(ctx, 0, msg.Bytes(junk)); err != nil {
				_ = r.Reply(nil)
				continue
			}
			reply, _ := (&proto.Piece{Task: gp.Task, Index: gp.Index, Length: uint32(n)}).Append(nil)
			_ = r.Reply(reply)
		}
	}()
	return b
}

// TestCorruptPeer: the only peer holding the pieces serves corrupt bytes.
// The daemon rejects them, reports PieceFailed{corrupt}, the scheduler
// excludes the peer, and the pieces come from the source instead.
func TestCorruptPeer(t *testing.T) {
	data := genData(4<<20, 3)
	o := newOrigin(t, data)
	ss := startScheduler(t, scheduler.Config{}, "")
	cfg := baseConfig(t, ss.addr)
	layout := core.Layout{Size: int64(len(data)), PieceSize: cfg.PieceSize}
	id := core.TaskIDForDigest(digestOf(data), cfg.PieceSize)
	bad := startBadSeed(t, ss, id, layout, o.url(), data)
	d := startDaemon(t, cfg)
	out, p := fetch(t, d, daemon.Request{URL: o.url(), Digest: digestOf(data)})
	checkFile(t, out, data)
	st, sst := d.Stats(), ss.s.Stats()
	t.Logf("bad seed served %d; daemon %+v; scheduler %+v; progress %+v", bad.served.Load(), st, sst, p)
	if bad.served.Load() == 0 || st.PiecesCorrupt == 0 || sst.Corrupt == 0 {
		t.Fatal("the corrupt peer was never tried, detected or reported")
	}
	if got := bad.served.Load(); got > int64(cfg.Concurrency) {
		t.Fatalf("corrupt peer asked %d times; it should be excluded after the first", got)
	}
	if p.FromPeers != 0 || p.FromSource != int64(len(data)) {
		t.Fatalf("progress %+v: every piece should have come from the source", p)
	}
}

// proxy forwards TCP connections to a target and, once armed, cuts every
// connection for good after cutAt bytes flowed from the target: a parent
// killed in the middle of a piece, as its children see it.
type proxy struct {
	ln     net.Listener
	target atomic.Pointer[string]
	armed  atomic.Bool
	cutAt  int64
	down   atomic.Int64
	cut    chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, cutAt int64) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, cutAt: cutAt, cut: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tgt := p.target.Load()
			var dst net.Conn
			if tgt != nil {
				dst, err = net.Dial("tcp", *tgt)
			}
			if tgt == nil || err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, dst)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				_, _ = io.Copy(dst, c)
				_ = dst.Close()
			}()
			go func() {
				defer p.wg.Done()
				buf := make([]byte, 32<<10)
				for {
					k, rerr := dst.Read(buf)
					if k > 0 {
						if p.armed.Load() && p.down.Add(int64(k)) > p.cutAt {
							// Forward part of the chunk, then die.
							_, _ = c.Write(buf[:k/2])
							p.kill()
							break
						}
						if _, err := c.Write(buf[:k]); err != nil {
							break
						}
					}
					if rerr != nil {
						break
					}
				}
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		p.kill()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// kill closes the listener and every connection.
func (p *proxy) kill() {
	p.once.Do(func() {
		close(p.cut)
		_ = p.ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
	})
}

// TestParentKilledMidPiece: the only seed dies while it is sending a
// piece to a child (its connections cut, its port closed). Only that piece
// is lost: what the child verified before stays, the lost piece and the
// rest come from the source, and no byte is fetched twice.
func TestParentKilledMidPiece(t *testing.T) {
	const pieceSize = 256 << 10
	data := genData(8<<20, 4)
	o := newOrigin(t, data)
	ss := startScheduler(t, scheduler.Config{}, "")
	// Cut in the middle of the ninth piece: the child asks for at most
	// Concurrency (4) pieces at once, so by then at least four pieces were
	// answered in full, and up to four are in flight and lost.
	px := startProxy(t, 8*pieceSize+100<<10)
	cfgA := baseConfig(t, ss.addr)
	cfgA.Advertise = px.addr()
	a := startDaemon(t, cfgA)
	addrA := a.PeerAddr()
	px.target.Store(&addrA)
	req := daemon.Request{URL: o.url(), Digest: digestOf(data)}
	fetch(t, a, req)
	before := o.served.Load()

	px.armed.Store(true)
	b := startDaemon(t, baseConfig(t, ss.addr))
	out, p := fetch(t, b, req)
	checkFile(t, out, data)
	select {
	case <-px.cut:
	default:
		t.Fatal("the proxy never cut the parent: the test did not test anything")
	}
	st := b.Stats()
	fromOrigin := o.served.Load() - before
	t.Logf("child: %+v; progress %+v; origin served %d; scheduler %+v", st, p, fromOrigin, ss.s.Stats())
	if st.PiecesFailed == 0 {
		t.Fatal("no piece failed: the cut did not hit a transfer")
	}
	if p.FromPeers < 4*pieceSize {
		t.Fatalf("child kept %d bytes from the parent; the piece before the cut was lost", p.FromPeers)
	}
	if p.FromPeers+p.FromSource != int64(len(data)) {
		t.Fatalf("child fetched %d+%d bytes for a %d-byte file", p.FromPeers, p.FromSource, len(data))
	}
	if fromOrigin > p.FromSource+1 {
		t.Fatalf("origin served %d bytes, child took %d from it", fromOrigin, p.FromSource)
	}
}

// TestSchedulerDown: with no scheduler at all, and with the scheduler
// killed in the middle of a download and restarted later, daemons go back
// to the source and finish; after the restart they register again.
func TestSchedulerDown(t *testing.T) {
	data := genData(4<<20, 5)
	o := newOrigin(t, data)
	t.Run("never-up", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		_ = ln.Close()
		d := startDaemon(t, baseConfig(t, dead))
		out, p := fetch(t, d, daemon.Request{URL: o.url()})
		checkFile(t, out, data)
		if p.FromSource != int64(len(data)) {
			t.Fatalf("progress %+v", p)
		}
	})
	t.Run("wrong-token", func(t *testing.T) {
		ss := startScheduler(t, scheduler.Config{Token: "secret"}, "")
		cfg := baseConfig(t, ss.addr)
		cfg.Token = "guess"
		d := startDaemon(t, cfg)
		out, p := fetch(t, d, daemon.Request{URL: o.url() + "?token"})
		checkFile(t, out, data)
		if p.FromSource != int64(len(data)) || d.Stats().Registered {
			t.Fatalf("progress %+v, stats %+v", p, d.Stats())
		}
	})
	t.Run("killed-and-restarted", func(t *testing.T) {
		ss := startScheduler(t, scheduler.Config{}, "")
		var ds []*daemon.Daemon
		for range 2 {
			cfg := baseConfig(t, ss.addr)
			cfg.DownloadRate = 3 << 20 // about 1.3 s for the file
			ds = append(ds, startDaemon(t, cfg))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var trs []*daemon.Transfer
		for _, d := range ds {
			tr, err := d.Download(ctx, daemon.Request{URL: o.url() + "?x", Output: filepath.Join(t.TempDir(), "out")})
			if err != nil {
				t.Fatal(err)
			}
			trs = append(trs, tr)
		}
		waitFor(t, "a third of the file", 10*time.Second, func() bool { return trs[0].Progress().Done > int64(len(data))/3 })
		ss.stop()
		for i, tr := range trs {
			if err := tr.Wait(ctx); err != nil {
				t.Fatalf("daemon %d: %v", i, err)
			}
		}
		// Restart on the same address: the daemons register again.
		ss2 := startScheduler(t, scheduler.Config{}, ss.addr)
		waitFor(t, "re-registration", 10*time.Second, func() bool { return ss2.s.Stats().Peers == 2 && ds[0].Stats().Registered })
	})
}

// TestOriginErrors: an origin that fails a few times is retried; one that
// keeps answering 500, or hangs, ends the download with a clear error and
// no output.
func TestOriginErrors(t *testing.T) {
	data := genData(1<<20, 6)
	isProbe := func(r *http.Request) bool { return r.Header.Get("Range") == "bytes=0-0" || r.Method == http.MethodHead }
	t.Run("transient-500", func(t *testing.T) {
		o := newOrigin(t, data)
		var fails atomic.Int32
		o.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			if !isProbe(r) && fails.Add(1) <= 3 {
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		d := startDaemon(t, baseConfig(t, ""))
		out, _ := fetch(t, d, daemon.Request{URL: o.url()})
		checkFile(t, out, data)
	})
	for _, tc := range []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request)
		want  error
	}{
		{"always-500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, source.ErrGaveUp},
		{"hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, source.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, data)
			o.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if isProbe(r) {
					return false
				}
				tc.fault(w, r)
				return true
			})
			cfg := baseConfig(t, "")
			cfg.Source.Timeout = 200 * time.Millisecond
			cfg.Source.Attempts = 2
			d := startDaemon(t, cfg)
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			tr, err := d.Download(ctx, daemon.Request{URL: o.url(), Output: out})
			if err == nil {
				err = tr.Wait(ctx)
			}
			t.Logf("after %v: %v", time.Since(start), err)
			if !errors.Is(err, daemon.ErrSource) || !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want daemon.ErrSource and %v", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("output exists after a failed download: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		o := newOrigin(t, data)
		url := o.url()
		o.srv.Close()
		cfg := baseConfig(t, "")
		cfg.Source.Attempts = 2
		d := startDaemon(t, cfg)
		_, err := d.Download(context.Background(), daemon.Request{URL: url})
		if !errors.Is(err, daemon.ErrSource) {
			t.Fatalf("error %v, want daemon.ErrSource", err)
		}
	})
}

// TestDiskFull: the disk fills in the middle of the download. The download
// fails with ErrDiskFull, no output appears, the piece being written is
// not marked present, and a restart on a disk with room resumes.
func TestDiskFull(t *testing.T) {
	data := genData(4<<20, 7)
	o := newOrigin(t, data)
	t.Run("mid-download", func(t *testing.T) {
		ffs := piecetest.NewFaultFS(piece.OS)
		ffs.Add(piecetest.Rule{Op: piecetest.OpWrite, Path: "data", After: 100, Err: syscall.ENOSPC, Short: true})
		cfg := baseConfig(t, "")
		cfg.FS = ffs
		d, err := daemon.New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out")
		tr, err := d.Download(context.Background(), daemon.Request{URL: o.url(), Output: out})
		if err != nil {
			t.Fatal(err)
		}
		err = tr.Wait(context.Background())
		p := tr.Progress()
		t.Logf("%v; progress %+v", err, p)
		if !errors.Is(err, daemon.ErrDiskFull) || !errors.Is(err, piece.ErrDiskFull) {
			t.Fatalf("error %v, want ErrDiskFull", err)
		}
		if p.State != daemon.StateFailed || p.PiecesDone == p.Pieces {
			t.Fatalf("progress %+v", p)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("output exists after disk full: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		// Room again: the same data dir resumes and the result is right.
		cfg.FS = nil
		d2 := startDaemon(t, cfg)
		out2, p2 := fetch(t, d2, daemon.Request{URL: o.url()})
		checkFile(t, out2, data)
		if p2.Resumed == 0 || p2.Resumed != p.Done {
			t.Fatalf("resumed %d bytes, the failed run had verified %d", p2.Resumed, p.Done)
		}
	})
	t.Run("quota", func(t *testing.T) {
		cfg := baseConfig(t, "")
		cfg.Quota = 1 << 20
		d := startDaemon(t, cfg)
		_, err := d.Download(context.Background(), daemon.Request{URL: o.url()})
		if !errors.Is(err, daemon.ErrDiskFull) || !errors.Is(err, piece.ErrQuota) {
			t.Fatalf("error %v, want ErrDiskFull and piece.ErrQuota", err)
		}
	})
}

// TestSyncFailure: the data file's fsync starts failing in the middle of
// the download. Pieces are served and reported before their group commit,
// so the failure surfaces in the background: the download still fails
// with the error (not a hang), and no output appears.
func TestSyncFailure(t *testing.T) {
	data := genData(4<<20, 9)
	o := newOrigin(t, data)
	ffs := piecetest.NewFaultFS(piece.OS)
	ffs.Add(piecetest.Rule{Op: piecetest.OpSync, Path: "/data", After: 2, Err: syscall.EIO})
	cfg := baseConfig(t, "")
	cfg.FS = ffs
	d := startDaemon(t, cfg)
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := d.Download(ctx, daemon.Request{URL: o.url(), Output: out})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Wait(ctx)
	p := tr.Progress()
	t.Logf("%v; progress %+v", err, p)
	if !errors.Is(err, syscall.EIO) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the fsync's EIO", err)
	}
	if p.State != daemon.StateFailed {
		t.Fatalf("progress %+v", p)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output exists after a failed fsync: %v", err)
	}
}
