// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// DefaultDiscoveryPort is the UDP port of name discovery.
const DefaultDiscoveryPort = 7609

// maxCandidates bounds the answers one remote lookup tries to confirm.
const maxCandidates = 8

// NameConfig configures a node's naming service ([Node.ConfigureNames]).
// The zero value means "defaults".
type NameConfig struct {
	// Port is the UDP port queries go to and the responder listens on. 0
	// means DefaultDiscoveryPort (7609).
	Port int
	// Listen is the UDP address the responder of a node with remote names
	// binds, with SO_REUSEADDR so that every node of a host receives the
	// broadcasts. "" means "0.0.0.0:Port" (broadcasts reach only a wildcard
	// socket).
	Listen string
	// Targets are the "ip:port" addresses a query is sent to. Nil means,
	// at Port, the broadcast address of every up, broadcast-capable,
	// non-loopback IPv4 interface (recomputed per lookup) and
	// 127.255.255.255, which reaches the nodes of this host.
	Targets []string
	// Attempts is how many times a lookup sends its query. 0 means 3.
	Attempts int
	// Interval is how long a lookup waits for answers after each query.
	// 0 means 250ms.
	Interval time.Duration
	// ConfirmTimeout bounds the handshake that confirms one answer. 0
	// means 2s.
	ConfirmTimeout time.Duration
	// CacheTTL is how long a confirmed remote name is cached. 0 means 30s.
	CacheTTL time.Duration
	// CacheSize bounds the cached names. 0 means 256.
	CacheSize int
	// AnswerRate bounds the discovery answers the node sends per second;
	// queries beyond it are dropped. 0 means 50.
	AnswerRate int
	// MaxLookups bounds the names being looked up remotely at once. 0
	// means 64.
	MaxLookups int
}

func (c NameConfig) withDefaults() NameConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Port, DefaultDiscoveryPort)
	def(&c.Attempts, 3)
	def(&c.CacheSize, 256)
	def(&c.AnswerRate, 50)
	def(&c.MaxLookups, 64)
	if c.Listen == "" {
		c.Listen = "0.0.0.0:" + strconv.Itoa(c.Port)
	}
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = 2 * time.Second
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 30 * time.Second
	}
	return c
}

// Validate reports a naming configuration that cannot work.
func (c NameConfig) Validate() error {
	var errs []error
	rng := func(name string, v, hi int) {
		if v < 0 || v > hi {
			errs = append(errs, fmt.Errorf("msg: names: %s %d out of range [0, %d]", name, v, hi))
		}
	}
	rng("Port", c.Port, 65535)
	rng("Attempts", c.Attempts, 100)
	rng("CacheSize", c.CacheSize, 1<<20)
	rng("AnswerRate", c.AnswerRate, 1<<20)
	rng("MaxLookups", c.MaxLookups, 1<<12)
	if c.Interval < 0 || c.ConfirmTimeout < 0 || c.CacheTTL < 0 {
		errs = append(errs, errors.New("msg: names: negative duration"))
	}
	for _, t := range c.Targets {
		if _, err := netip.ParseAddrPort(t); err != nil {
			errs = append(errs, fmt.Errorf("msg: names: target %q: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// targets returns where a query goes.
func (c NameConfig) targets() ([]netip.AddrPort, error) {
	if c.Targets != nil {
		out := make([]netip.AddrPort, 0, len(c.Targets))
		for _, t := range c.Targets {
			ap, err := netip.ParseAddrPort(t)
			if err != nil {
				return nil, fmt.Errorf("msg: names: target %q: %w", t, err)
			}
			out = append(out, ap)
		}
		return out, nil
	}
	port := uint16(c.Port)
	out := []netip.AddrPort{netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 255, 255, 255}), port)}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("msg: names: list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // the interface went away
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip4, mask := ipn.IP.To4(), ipn.Mask
			if ip4 == nil || len(mask) != net.IPv4len {
				continue
			}
			var b [4]byte
			for i := range b {
				b[i] = ip4[i] | ^mask[i]
			}
			ap := netip.AddrPortFrom(netip.AddrFrom4(b), port)
			if !containsAddrPort(out, ap) {
				out = append(out, ap)
			}
		}
	}
	return out, nil
}

func containsAddrPort(s []netip.AddrPort, ap netip.AddrPort) bool {
	for _, x := range s {
		if x == ap {
			return true
		}
	}
	return false
}

// closeOnDone closes c when ctx ends and returns a function that undoes
// that or, if it already ran, waits until c is closed.
func closeOnDone(ctx context.Context, c net.PacketConn) (release func()) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.Close()
		close(closed)
	})
	return func() {
		if !stop() {
			<-closed
		}
	}
}

// startResponder binds the discovery port and answers queries for the
// node's remote names until the node closes. The caller holds names.mu.
func (n *Node) startResponder(cfg NameConfig) error {
	lc := net.ListenConfig{Control: reuseAddrControl}
	pc, err := lc.ListenPacket(n.ctx, "udp4", cfg.Listen)
	if err != nil {
		return fmt.Errorf("msg: names: listen %s: %w", cfg.Listen, err)
	}
	uc := pc.(*net.UDPConn)
	release := closeOnDone(n.ctx, uc)
	if !n.goroutine(func() {
		defer release()
		n.respond(uc, cfg)
	}) {
		release()
		_ = uc.Close()
		return ErrClosed
	}
	return nil
}

// respond is the responder loop.
func (n *Node) respond(pc *net.UDPConn, cfg NameConfig) {
	t := &n.names
	buf := make([]byte, maxDiscoveryPacket+1)
	var out []byte
	for {
		k, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n.isClosed() {
				return
			}
			continue // a transient error (ICMP report and the like)
		}
		p, err := parseDiscovery(buf[:k])
		if err != nil {
			t.stats.badPackets.Add(1)
			continue
		}
		if p.Type != discoveryQuery || from.Port() == 0 {
			t.stats.answersIgnored.Add(1) // answers belong to a querier's own socket
			continue
		}
		t.mu.Lock()
		_, held := t.remote[p.Name]
		allowed := held && t.allowAnswerLocked(cfg.AnswerRate)
		t.mu.Unlock()
		if !held {
			continue
		}
		if !allowed {
			t.stats.queriesLimited.Add(1)
			continue
		}
		var addrs []string
		for _, a := range n.remoteAddrs() {
			if advertisable(a, from.Addr().Unmap().IsLoopback()) {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		out, err = appendDiscovery(out[:0], discoveryPacket{
			Type: discoveryAnswer, Nonce: p.Nonce, Name: p.Name, Node: n.id, Addrs: addrs,
		})
		if err != nil {
			continue
		}
		if _, err := pc.WriteToUDPAddrPort(out, from); err == nil {
			t.stats.queriesAnswered.Add(1)
		}
	}
}

// allowAnswerLocked takes one answer from the per-second budget.
func (t *nameTable) allowAnswerLocked(rate int) bool {
	now := time.Now()
	if now.Sub(t.answerSec) >= time.Second {
		t.answerSec, t.answerLeft = now, rate
	}
	if t.answerLeft <= 0 {
		return false
	}
	t.answerLeft--
	return true
}

// advertisable reports whether address a of this node is worth sending to
// a querier: every address to one on this host, only a TCP address with a
// non-loopback host to one elsewhere.
func advertisable(a string, toLoopback bool) bool {
	if toLoopback {
		return true
	}
	scheme, rest, err := parseAddr(a)
	if err != nil || scheme != schemeTCP {
		return false
	}
	ap, err := netip.ParseAddrPort(rest)
	return err == nil && !ap.Addr().Unmap().IsLoopback()
}

// pickAddr chooses the address to confirm from an answer that came from
// src: a "unix://" address only from this host (src is loopback), a
// "tcp://" address only at src itself (an unspecified host is replaced by
// src). So an answer can only point at the host it came from.
func pickAddr(addrs []string, src netip.Addr) (string, bool) {
	tcp := ""
	for _, a := range addrs {
		scheme, rest, err := parseAddr(a)
		if err != nil {
			continue
		}
		switch scheme {
		case schemeUnix:
			if src.IsLoopback() {
				return a, true
			}
		case schemeTCP:
			ap, err := netip.ParseAddrPort(rest)
			if err != nil || ap.Port() == 0 || tcp != "" {
				continue
			}
			switch ip := ap.Addr().Unmap(); {
			case ip.IsUnspecified():
				tcp = "tcp://" + netip.AddrPortFrom(src, ap.Port()).String()
			case ip == src:
				tcp = a
			}
		}
	}
	return tcp, tcp != ""
}

// queryRemote broadcasts a query for name and returns the first answer
// that a handshake confirms.
func (n *Node) queryRemote(ctx context.Context, name string, cfg NameConfig) (Peer, error) {
	t := &n.names
	targets, err := cfg.targets()
	if err != nil {
		return Peer{}, err
	}
	lc := net.ListenConfig{Control: broadcastControl}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return Peer{}, fmt.Errorf("msg: lookup %q: %w", name, err)
	}
	uc := pc.(*net.UDPConn)
	release := closeOnDone(ctx, uc)
	defer func() {
		release()
		_ = uc.Close()
	}()
	nonce := randUint64()
	q, err := appendDiscovery(nil, discoveryPacket{Type: discoveryQuery, Nonce: nonce, Name: name})
	if err != nil {
		return Peer{}, err
	}
	buf := make([]byte, maxDiscoveryPacket+1)
	tried := map[string]bool{}
	var errs []error
	for range cfg.Attempts {
		sent := 0
		for _, dst := range targets {
			if _, err := uc.WriteToUDPAddrPort(q, dst); err != nil {
				errs = append(errs, err)
				continue
			}
			sent++
			t.stats.queriesSent.Add(1)
		}
		if sent == 0 {
			return Peer{}, fmt.Errorf("msg: lookup %q: no query sent: %w", name, errors.Join(errs...))
		}
		if err := uc.SetReadDeadline(time.Now().Add(cfg.Interval)); err != nil {
			return Peer{}, fmt.Errorf("msg: lookup %q: %w", name, err)
		}
		for {
			k, from, err := uc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ctx.Err() != nil {
					return Peer{}, fmt.Errorf("msg: lookup %q: %w", name, ErrClosed)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				continue // ICMP errors of the broadcasts and the like
			}
			p, err := parseDiscovery(buf[:k])
			if err != nil {
				t.stats.badPackets.Add(1)
				continue
			}
			if p.Type != discoveryAnswer || p.Nonce != nonce || p.Name != name || p.Node == 0 {
				t.stats.answersIgnored.Add(1)
				continue
			}
			addr, ok := pickAddr(p.Addrs, from.Addr().Unmap())
			key := addr + "#" + p.Node.String()
			if !ok || tried[key] || len(tried) >= maxCandidates {
				t.stats.answersIgnored.Add(1)
				continue
			}
			tried[key] = true
			cctx, cancel := context.WithTimeout(ctx, cfg.ConfirmTimeout)
			err = n.confirm(cctx, addr, p.Node, name)
			cancel()
			if err == nil {
				t.stats.confirmed.Add(1)
				return Peer{ID: p.Node, Addr: addr}, nil
			}
			t.stats.unconfirmed.Add(1)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Peer{}, fmt.Errorf("msg: lookup %q: %w (%w)", name, ErrNameNotFound, errors.Join(errs...))
	}
	return Peer{}, fmt.Errorf("msg: lookup %q: %w", name, ErrNameNotFound)
}
