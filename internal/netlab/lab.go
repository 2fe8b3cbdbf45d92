// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollen-dev/pollen/internal/units"
)

// ErrNotSupported marks a lab that cannot be built on this machine: not
// root, no `ip` or `tc`, or namespaces refused. Tests skip on it.
var ErrNotSupported = errors.New("netlab: network namespaces not available")

// MaxHosts is the most hosts a lab may have.
const MaxHosts = 500

// MaxTSOSegs is the largest [Config.MinTSOSegs]: 44 segments of 1448
// bytes make one 64 KiB GSO packet.
const MaxTSOSegs = 44

// Link is the shaping of one host's link. A zero rate is unlimited.
type Link struct {
	// Up limits what the host sends (tbf on its eth0).
	Up units.Rate
	// Down limits what the host receives (tbf on the bridge side).
	Down units.Rate
}

// Config describes a lab. The zero value except Hosts is a usable default.
type Config struct {
	// Hosts is the number of hosts, 1 to MaxHosts.
	Hosts int
	// Link is the shaping of every host's link not named in HostLinks.
	Link Link
	// HostLinks overrides Link for some hosts, by index (e.g. 0, the origin).
	HostLinks map[int]Link
	// Latency is the longest a packet may wait in a tbf queue before it is
	// dropped; it sets the queue length. Zero means 50ms.
	Latency time.Duration
	// MinTSOSegs, if not zero, sets net.ipv4.tcp_min_tso_segs in every
	// host: TCP then hands at least that many segments to the link at once
	// (one GSO packet, up to 44 for 64 KiB), and the tbf buckets are made
	// large enough to pass such a packet whole. At low rates TCP's own
	// choice (about 1 ms of its pacing rate, 2 segments at 25 Mbit/s)
	// delivers a few KiB per wake-up of the receiving process; with dozens
	// of hosts sharing a few CPUs that per-packet cost, not the links,
	// bounds the run. Zero keeps the kernel's default (2).
	MinTSOSegs int
	// Prefix names the lab's namespaces; empty means a fresh
	// pl<pid>-<seq>- prefix. It must be unique on the machine.
	Prefix string
	// Logger receives progress at debug level; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Latency == 0 {
		c.Latency = 50 * time.Millisecond
	}
	if c.Prefix == "" {
		c.Prefix = fmt.Sprintf("pl%d-%d-", os.Getpid(), labSeq.Add(1))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c describes a lab that can be built.
func (c Config) Validate() error {
	if c.Hosts < 1 || c.Hosts > MaxHosts {
		return fmt.Errorf("netlab: hosts %d not in 1..%d", c.Hosts, MaxHosts)
	}
	for i, l := range c.HostLinks {
		if i < 0 || i >= c.Hosts {
			return fmt.Errorf("netlab: link for host %d of %d", i, c.Hosts)
		}
		if l.Up < 0 || l.Down < 0 {
			return fmt.Errorf("netlab: negative rate for host %d", i)
		}
	}
	if c.Link.Up < 0 || c.Link.Down < 0 {
		return errors.New("netlab: negative rate")
	}
	if c.Latency < 0 {
		return errors.New("netlab: negative latency")
	}
	if c.MinTSOSegs < 0 || c.MinTSOSegs > MaxTSOSegs {
		return fmt.Errorf("netlab: MinTSOSegs %d not in 0..%d", c.MinTSOSegs, MaxTSOSegs)
	}
	if len(c.Prefix) > 40 {
		return fmt.Errorf("netlab: prefix %q too long", c.Prefix)
	}
	return nil
}

var labSeq atomic.Int64

// Lab is a set of hosts on one bridge. Close it to tear it down.
type Lab struct {
	cfg    Config
	hosts  []*Host
	bridge string // namespace of the bridge
	log    *slog.Logger

	mu     sync.Mutex // guards the following fields
	procs  map[*Proc]struct{}
	closed bool
}

// HostAddr returns the address of host i: 198.18.0.1 for host 0 and
// 198.18.0.0 + 9 + i for the others (198.18.0.10, .11, ...).
func HostAddr(i int) netip.Addr {
	n := 1
	if i > 0 {
		n = 9 + i
	}
	return netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)})
}

// New builds the lab described by cfg. On error nothing is left behind. The
// error wraps [ErrNotSupported] when the machine cannot host a lab.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := Supported(ctx); err != nil {
		return nil, err
	}
	if err := CleanupStale(ctx); err != nil {
		cfg.Logger.Warn("netlab: cleanup of stale labs", "err", err)
	}
	l := &Lab{
		cfg:    cfg,
		bridge: cfg.Prefix + "br",
		log:    cfg.Logger,
		procs:  make(map[*Proc]struct{}),
	}
	for i := range cfg.Hosts {
		link := cfg.Link
		if hl, ok := cfg.HostLinks[i]; ok {
			link = hl
		}
		l.hosts = append(l.hosts, &Host{
			lab:   l,
			Index: i,
			NS:    cfg.Prefix + "h" + strconv.Itoa(i),
			Addr:  HostAddr(i),
			Link:  link,
		})
	}
	if err := l.build(ctx); err != nil {
		// Tear down with a fresh context: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(err, l.deleteNamespaces(cctx))
	}
	return l, nil
}

// Supported reports, as an error wrapping [ErrNotSupported], why this
// machine cannot host a lab, or nil if it can.
func Supported(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root", ErrNotSupported)
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %w", ErrNotSupported, err)
		}
	}
	probe := fmt.Sprintf("pl%d-probe%d", os.Getpid(), labSeq.Add(1))
	if err := ip(ctx, "netns", "add", probe); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	if err := ip(ctx, "netns", "del", probe); err != nil {
		return fmt.Errorf("netlab: delete probe namespace: %w", err)
	}
	return nil
}

func (l *Lab) build(ctx context.Context) error {
	br := l.bridge
	steps := [][]string{
		{"ip", "netns", "add", br},
		{"ip", "-n", br, "link", "set", "lo", "up"},
		{"ip", "-n", br, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"},
		{"ip", "-n", br, "link", "set", "br0", "up"},
	}
	for _, h := range l.hosts {
		port := "h" + strconv.Itoa(h.Index)
		steps = append(steps,
			[]string{"ip", "netns", "add", h.NS},
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
			[]string{"ip", "-n", br, "link", "set", port, "master", "br0", "up"},
			[]string{"ip", "-n", h.NS, "addr", "add", h.Addr.String() + "/15", "dev", "eth0"},
			[]string{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		)
		if n := l.cfg.MinTSOSegs; n > 0 {
			sysctl := "net.ipv4.tcp_min_tso_segs=" + strconv.Itoa(n)
			steps = append(steps, []string{"ip", "netns", "exec", h.NS, "sysctl", "-q", "-w", sysctl})
		}
		if h.Link.Up > 0 {
			steps = append(steps, tbf(h.NS, "eth0", h.Link.Up, l.cfg.Latency, l.cfg.MinTSOSegs))
		}
		if h.Link.Down > 0 {
			steps = append(steps, tbf(br, port, h.Link.Down, l.cfg.Latency, l.cfg.MinTSOSegs))
		}
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	l.log.Debug("netlab: lab up", "prefix", l.cfg.Prefix, "hosts", len(l.hosts))
	return nil
}

// tbf returns the tc command that shapes dev's egress to rate. The bucket
// holds at least 64 KiB (one GSO packet, which tbf would otherwise have to
// split) or 4 ms at rate, whichever is larger, and with tsoSegs a GSO
// packet of that many full-sized frames as tbf counts it (headers of every
// segment included).
func tbf(ns, dev string, rate units.Rate, latency time.Duration, tsoSegs int) []string {
	const frame = 1514 // Ethernet header + 1500 bytes MTU
	burst := max(int64(64<<10), int64(rate)*4/1000, int64(tsoSegs+1)*frame)
	return []string{
		"tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(int64(rate)*8, 10) + "bit",
		"burst", strconv.FormatInt(burst, 10),
		"latency", strconv.FormatInt(latency.Microseconds(), 10) + "us",
	}
}

// Prefix returns the prefix of the lab's namespace names.
func (l *Lab) Prefix() string { return l.cfg.Prefix }

// Hosts returns the lab's hosts, host i at index i. The slice must not be
// modified.
func (l *Lab) Hosts() []*Host { return l.hosts }

// Host returns host i.
func (l *Lab) Host(i int) *Host { return l.hosts[i] }

// Close stops every process started in the lab (SIGTERM to its group, then
// SIGKILL), kills whatever else runs in the lab's namespaces, and deletes
// them, which removes every link and the bridge. It is idempotent and
// returns when all is gone.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := make([]*Proc, 0, len(l.procs))
	for p := range l.procs {
		procs = append(procs, p)
	}
	l.mu.Unlock()

	StopAll(procs...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return l.deleteNamespaces(ctx)
}

// deleteNamespaces kills every process in the lab's namespaces and deletes
// them, hosts first (which destroys their veth pairs) and the bridge last.
func (l *Lab) deleteNamespaces(ctx context.Context) error {
	names := make([]string, 0, len(l.hosts)+1)
	for _, h := range l.hosts {
		names = append(names, h.NS)
	}
	names = append(names, l.bridge)
	var errs []error
	for _, ns := range names {
		if err := deleteNamespace(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *Lab) track(p *Proc) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("netlab: lab closed")
	}
	l.procs[p] = struct{}{}
	return nil
}

func (l *Lab) untrack(p *Proc) {
	l.mu.Lock()
	delete(l.procs, p)
	l.mu.Unlock()
}

func ip(ctx context.Context, args ...string) error { return run(ctx, "ip", args...) }

// run runs a short administrative command and returns its output in the
// error.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("netlab: %s %v: %w: %s", name, args, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
