// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/netlab"
	"github.com/pollen-dev/pollen/internal/report"
	"github.com/pollen-dev/pollen/internal/units"
)

func TestLowerBound(t *testing.T) {
	const mb = 1_000_000
	peers := func(n int, up, down units.Rate) []netlab.Link {
		l := make([]netlab.Link, n)
		for i := range l {
			l[i] = netlab.Link{Up: up, Down: down}
		}
		return l
	}
	for _, tc := range []struct {
		name     string
		originUp units.Rate
		peers    []netlab.Link
		want     time.Duration
	}{
		// F/u_origin dominates: 100 MB at 10 MB/s.
		{"origin", 10 * mb, peers(4, 10*mb, 20*mb), 10 * time.Second},
		// F/d_min dominates: the slowest download is 2 MB/s.
		{"download", 10 * mb, append(peers(3, 10*mb, 20*mb), netlab.Link{Up: 10 * mb, Down: 2 * mb}), 50 * time.Second},
		// N·F/Σu dominates: 8 peers that upload 1 MB/s each.
		{"aggregate", 10 * mb, peers(8, mb, 20*mb), 44444444444 * time.Nanosecond},
		// Unlimited everything.
		{"unlimited", 0, peers(2, 0, 0), 0},
	} {
		if got := LowerBound(100*mb, tc.originUp, tc.peers); got.Round(time.Millisecond) != tc.want.Round(time.Millisecond) {
			t.Errorf("%s: LowerBound = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestInfoHash(t *testing.T) {
	info := "d6:lengthi5e4:name1:x12:piece lengthi262144e6:pieces20:aaaaaaaaaaaaaaaaaaaae"
	meta := "d8:announce9:http://x/4:info" + info + "e"
	got, err := infoHash([]byte(meta))
	if err != nil {
		t.Fatal(err)
	}
	if want := sha1.Sum([]byte(info)); got != want {
		t.Errorf("infoHash = %x, want %x", got, want)
	}
	for _, bad := range []string{"", "l4:infoe", "d4:info", "d4:infod", "d8:announce99:x4:infodee", "d3:fooi1e"} {
		if _, err := infoHash([]byte(bad)); err == nil {
			t.Errorf("infoHash(%q) = nil error", bad)
		}
	}
}

func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	for _, c := range []Config{{Peers: -1}, {Size: -1}, {PeerUp: -1}, {NoSwarm: true}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	for _, c := range []PushConfig{{Binary: "p", MinTSOSegs: 45}, {Binary: "p", QueueLatency: -time.Millisecond}, {Binary: "p", Receivers: []int{0}}, {}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if got := (PushConfig{}).withDefaults().MinTSOSegs; got != 44 {
		t.Errorf("default push MinTSOSegs = %d, want 44 as the swarm's lab", got)
	}
	if got := (PushConfig{MinTSOSegs: -1}).withDefaults().MinTSOSegs; got != 0 {
		t.Errorf("push MinTSOSegs -1 = %d, want 0 (the kernel's default)", got)
	}
	// The default bound: 64 MiB through the origin's 100 Mbit/s.
	if got, want := (Config{}).withDefaults().bound(), 5368709*time.Microsecond; got.Round(time.Millisecond) != want.Round(time.Millisecond) {
		t.Errorf("default bound = %v, want %v", got, want)
	}
	// The default timeout leaves the client-server baseline, which sends
	// N·F through the origin, room to finish: 16 x 256 MiB at 100 Mbit/s
	// is 344 s.
	big := Config{Peers: 16, Size: 256 << 20}.withDefaults()
	if got := big.timeout(); got < 2*344*time.Second {
		t.Errorf("default timeout for 16 x 256 MiB = %v, want at least twice 344s", got)
	}
}

// runOrSkip runs cfg and skips the test when the machine lacks root or the
// baselines' programs.
func runOrSkip(t *testing.T, ctx context.Context, cfg Config, w *report.Writer) {
	t.Helper()
	err := Run(ctx, cfg, w)
	if errors.Is(err, netlab.ErrNotSupported) || errors.Is(err, ErrMissingTools) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// interruptible returns a context cancelled on SIGINT or SIGTERM, so that an
// interrupted test still tears its lab down.
func interruptible(t *testing.T) context.Context {
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	t.Cleanup(stop)
	return ctx
}

// TestBaselinesSmall runs both baselines with 4 peers, a 16 MiB file and
// 50 Mbit/s links, and checks that every copy verified (Run fails
// otherwise) and that the figures are sane. It is a functional test of the
// harness, not a benchmark.
func TestBaselinesSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds a network lab")
	}
	rate, _ := units.ParseRate("50Mbit")
	cfg := Config{
		Peers: 4, Size: 16 << 20, OriginUp: rate, PeerUp: rate, PeerDown: rate,
		Timeout: 40 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	var buf bytes.Buffer
	runOrSkip(t, interruptible(t), cfg, report.NewWriter(&buf, true))

	bound := cfg.withDefaults().bound().Seconds()
	got := map[string]report.Result{}
	for line := range bytes.Lines(buf.Bytes()) {
		var r report.Result
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		got[r.Case+" "+r.Metric] = r
	}
	const file = 16 << 20
	for _, sys := range []string{"bittorrent", "nginx"} {
		c := sys + "-n4-16MiB"
		done, ok := got[c+" all_done"]
		if !ok {
			t.Fatalf("no all_done for %s in %s", c, buf.String())
		}
		if done.Value < bound*0.98 || done.BaselineValue == nil || *done.BaselineValue != bound {
			t.Errorf("%s: all done in %.2fs, below the lower bound %.2fs", c, done.Value, bound)
		}
		origin := got[c+" origin_bytes"].Value
		if origin < file {
			t.Errorf("%s: origin sent %.0f bytes, less than the file", c, origin)
		}
		if cpu := got[c+" cpu"].Value; cpu <= 0 {
			t.Errorf("%s: cpu %v", c, cpu)
		}
		t.Logf("%s: all done %.2fs (bound %.2fs, %.2fx), origin %.2fx file, cpu %.2fs",
			c, done.Value, bound, done.Value/bound, origin/file, got[c+" cpu"].Value)
	}
	// nginx serves every peer from the origin: about N copies.
	if o := got["nginx-n4-16MiB origin_bytes"].Value; o < 4*file || o > 4.2*file {
		t.Errorf("nginx: origin sent %.0f bytes, want about 4 x %d", o, file)
	}
}

var (
	swarmRun      = flag.Bool("swarm.run", false, "run TestSwarmBench, the full swarm benchmark")
	swarmPeers    = flag.Int("swarm.peers", 8, "TestSwarmBench: peers")
	swarmSize     = flag.String("swarm.size", "64MiB", "TestSwarmBench: file size")
	swarmOriginUp = flag.String("swarm.origin-up", "100Mbit", "TestSwarmBench: origin upload rate")
	swarmUp       = flag.String("swarm.up", "100Mbit", "TestSwarmBench: peer upload rate")
	swarmDown     = flag.String("swarm.down", "200Mbit", "TestSwarmBench: peer download rate")
	swarmLoopback = flag.Bool("swarm.loopback", false, "TestSwarmBench: also the loopback baselines")
	swarmNoSwarm  = flag.Bool("swarm.noswarm", false, "TestSwarmBench: only the loopback baselines")
	swarmJSON     = flag.Bool("swarm.json", false, "TestSwarmBench: JSON lines instead of a table")
	swarmSystems  = flag.String("swarm.systems", "bittorrent,nginx", "TestSwarmBench: systems to run, comma-separated")
	swarmPieceLog = flag.Int("swarm.bt-piece-log2", 0, "TestSwarmBench: BitTorrent piece size as a power of two (0: mktorrent's default)")
)

// TestSwarmBench is the runner of the swarm benchmark until `pollen bench
// swarm` calls Run: it runs only with -swarm.run and prints the results.
//
//	go test ./internal/swarmbench -run TestSwarmBench -v -timeout 30m -args -swarm.run -swarm.peers 16 -swarm.size 256MiB
func TestSwarmBench(t *testing.T) {
	if !*swarmRun {
		t.Skip("skipping: the swarm benchmark runs with -swarm.run")
	}
	var cfg Config
	var err error
	cfg.Peers, cfg.Loopback, cfg.NoSwarm = *swarmPeers, *swarmLoopback, *swarmNoSwarm
	if err = cfg.Size.Set(*swarmSize); err == nil {
		if err = cfg.OriginUp.Set(*swarmOriginUp); err == nil {
			if err = cfg.PeerUp.Set(*swarmUp); err == nil {
				err = cfg.PeerDown.Set(*swarmDown)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for name := range strings.SplitSeq(*swarmSystems, ",") {
		switch name {
		case "bittorrent":
			cfg.Systems = append(cfg.Systems, BitTorrent{PieceLog2: *swarmPieceLog})
		case "nginx":
			cfg.Systems = append(cfg.Systems, HTTP{})
		default:
			t.Fatalf("unknown system %q", name)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	w := report.NewWriter(t.Output(), *swarmJSON)
	runOrSkip(t, interruptible(t), cfg, w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestPieceDigests(t *testing.T) {
	dir := t.TempDir()
	f, err := makeFile(dir, "f", 1000)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	layout := core.Layout{Size: 1000, PieceSize: 300}
	got, err := pieceDigests(f.path, layout)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d digests for 4 pieces", len(got))
	}
	for i, d := range got {
		r := layout.Piece(core.PieceIndex(i))
		if want := core.Digest(sha256.Sum256(data[r.Off : r.Off+r.Len])); d != want {
			t.Errorf("piece %d: digest %x, want %x", i, d, want)
		}
	}
	if _, err := pieceDigests(f.path, core.Layout{Size: 2000, PieceSize: 300}); err == nil {
		t.Error("manifest of a file shorter than its layout: nil error")
	}
}

func TestBriefLinkAddr(t *testing.T) {
	for _, c := range []struct {
		out, want string
		ok        bool
	}{
		{"eth0@if12        UP             2a:5e:01:9c:40:07 <BROADCAST,MULTICAST,UP,LOWER_UP> \n", "2a:5e:01:9c:40:07", true},
		{"lo               UNKNOWN        00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP> \n", "00:00:00:00:00:00", true},
		{"eth0@if12 UP\n", "", false},
		{"eth0@if12 UP <BROADCAST,UP>\n", "", false},
		{"", "", false},
	} {
		got, err := briefLinkAddr(c.out)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("briefLinkAddr(%q) = %q, %v; want %q, ok %v", c.out, got, err, c.want, c.ok)
		}
	}
}
