// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Every packet of these tests stays on loopback: queries go to
// 127.255.255.255 at a port picked for the test, never to the default
// targets. The namespaced test (netns_test.go) covers the defaults.

// freeUDPPort returns a UDP port nothing listens on right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// loopbackNames is a naming configuration confined to loopback.
func loopbackNames(port int) NameConfig {
	return NameConfig{
		Port:     port,
		Targets:  []string{"127.255.255.255:" + strconv.Itoa(port)},
		Interval: 100 * time.Millisecond,
		Attempts: 2,
	}
}

// namedNode returns a node listening on addr with the naming configuration
// nc, closed at the end of the test.
func namedNode(t *testing.T, addr string, nc NameConfig) *Node {
	t.Helper()
	n, err := NewNode(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if err := n.ConfigureNames(nc); err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		if err := n.Listen(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// echo serves n until the test ends.
func echo(t *testing.T, n *Node) {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	wg.Go(func() {
		_ = n.Serve(ctx, func(_ context.Context, r *Request) { _ = r.Reply(r.Message()) })
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func TestNamesLocal(t *testing.T) {
	a := namedNode(t, "inproc://names-local-a", NameConfig{})
	if err := a.Listen(t.Context(), "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	echo(t, a)
	if err := a.Register("local-svc", ScopeLocal); err != nil {
		t.Fatal(err)
	}
	b := namedNode(t, "", NameConfig{})
	p, err := b.Lookup(t.Context(), "local-svc", ScopeLocal)
	if err != nil || p.ID != a.ID() || p.Addr != "inproc://names-local-a" {
		t.Fatalf("Lookup = %+v, %v; want %v at inproc://names-local-a", p, err, a.ID())
	}
	if r, err := b.Send(t.Context(), p.Addr, []byte("hi")); err != nil || string(r) != "hi" {
		t.Fatalf("Send to the looked-up node = %q, %v", r, err)
	}
	c := namedNode(t, "inproc://names-local-c", NameConfig{})
	if err := c.Register("local-svc", ScopeLocal); !errors.Is(err, ErrNameInUse) {
		t.Errorf("second local Register = %v, want ErrNameInUse", err)
	}
	if _, err := b.Lookup(t.Context(), "nobody", ScopeLocal); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("Lookup of an unknown name = %v, want ErrNameNotFound", err)
	}
	a.Unregister("local-svc")
	if _, err := b.Lookup(t.Context(), "local-svc", ScopeLocal); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("Lookup after Unregister = %v, want ErrNameNotFound", err)
	}
	if err := c.Register("local-svc", ScopeLocal); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if _, err := b.Lookup(t.Context(), "local-svc", ScopeLocal); !errors.Is(err, ErrNameNotFound) {
		t.Errorf("Lookup of a closed node's name = %v, want ErrNameNotFound", err)
	}
	if err := c.Register("x", ScopeLocal); !errors.Is(err, ErrClosed) {
		t.Errorf("Register on a closed node = %v", err)
	}
}

func TestNamesBadInput(t *testing.T) {
	n := namedNode(t, "inproc://names-bad", NameConfig{})
	for _, name := range []string{"", "a\x00b", "tab\t", string(make([]byte, MaxNameLen+1)), "\xff"} {
		if err := n.Register(name, ScopeLocal); !errors.Is(err, ErrBadName) {
			t.Errorf("Register(%q) = %v, want ErrBadName", name, err)
		}
		if _, err := n.Lookup(t.Context(), name, ScopeBoth); !errors.Is(err, ErrBadName) {
			t.Errorf("Lookup(%q) = %v, want ErrBadName", name, err)
		}
	}
	for _, s := range []Scope{0, 4, 255} {
		if err := n.Register("ok", s); !errors.Is(err, ErrBadName) {
			t.Errorf("Register with scope %v = %v", s, err)
		}
	}
	if err := n.Register("ok", ScopeRemote); !errors.Is(err, ErrNotListening) {
		t.Errorf("remote Register of an inproc-only node = %v, want ErrNotListening", err)
	}
	quiet := namedNode(t, "", NameConfig{})
	if err := quiet.Register("ok", ScopeLocal); !errors.Is(err, ErrNotListening) {
		t.Errorf("Register of a node that listens nowhere = %v, want ErrNotListening", err)
	}
	for _, c := range []NameConfig{{Port: -1}, {Port: 70000}, {Interval: -1}, {Targets: []string{"nowhere"}}, {MaxLookups: 1 << 20}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if _, err := n.Lookup(t.Context(), "ok", ScopeLocal); err != nil && !errors.Is(err, ErrNameNotFound) {
		t.Fatal(err)
	}
	if err := n.ConfigureNames(NameConfig{}); err == nil {
		t.Error("ConfigureNames after Lookup = nil")
	}
}

func TestNamesRemoteLoopback(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	server := namedNode(t, "tcp://127.0.0.1:0", nc)
	echo(t, server)
	if err := server.Register("scheduler", ScopeBoth); err != nil {
		t.Fatal(err)
	}
	client := namedNode(t, "", nc)
	start := time.Now()
	p, err := client.Lookup(t.Context(), "scheduler", ScopeRemote)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("remote lookup in %v: %+v", time.Since(start), p)
	if p.ID != server.ID() || p.Addr != server.Addr() {
		t.Fatalf("Lookup = %+v, want %v at %s", p, server.ID(), server.Addr())
	}
	if r, err := client.Send(t.Context(), p.Addr, []byte("ping")); err != nil || string(r) != "ping" {
		t.Fatalf("Send = %q, %v", r, err)
	}
	if _, err := client.Lookup(t.Context(), "scheduler", ScopeRemote); err != nil {
		t.Fatal(err)
	}
	if st := client.NameStats(); st.CacheHits != 1 || st.Confirmed != 1 {
		t.Errorf("client stats %+v, want one confirmation and one cache hit", st)
	}
	if st := server.NameStats(); st.QueriesAnswered == 0 {
		t.Errorf("server stats %+v, want answers", st)
	}
	// The probe never reaches the server's application.
	if st := server.Stats(); st.QueueFull != 0 {
		t.Errorf("server stats %+v", st)
	}
	// A local-scope lookup does not see a remote node; a remote lookup of a
	// name nobody holds fails after the attempts.
	if _, err := client.Lookup(t.Context(), "scheduler", ScopeLocal); err == nil {
		// The server registered ScopeBoth in this process, so it is found.
		t.Log("found locally, as registered with ScopeBoth")
	}
	start = time.Now()
	if _, err := client.Lookup(t.Context(), "no-such-service", ScopeRemote); !errors.Is(err, ErrNameNotFound) {
		t.Fatalf("Lookup of an unknown name = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("unknown name took %v", d)
	}
	// After Unregister the server denies the name in the handshake and
	// stops answering; the cached entry is dropped by ForgetName.
	server.Unregister("scheduler")
	client.ForgetName("scheduler")
	if _, err := client.Lookup(t.Context(), "scheduler", ScopeRemote); !errors.Is(err, ErrNameNotFound) {
		t.Fatalf("Lookup after Unregister = %v", err)
	}
}

func TestNamesUnixOnSameHost(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	addr := "unix://" + filepath.Join(t.TempDir(), "s.sock")
	server := namedNode(t, addr, nc)
	echo(t, server)
	if err := server.Register("unix-svc", ScopeRemote); err != nil {
		t.Fatal(err)
	}
	client := namedNode(t, "", nc)
	p, err := client.Lookup(t.Context(), "unix-svc", ScopeBoth)
	if err != nil || p.Addr != addr {
		t.Fatalf("Lookup = %+v, %v; want %s", p, err, addr)
	}
}

func TestNamesCacheExpiry(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	nc.CacheTTL = 50 * time.Millisecond
	server := namedNode(t, "tcp://127.0.0.1:0", nc)
	if err := server.Register("svc", ScopeRemote); err != nil {
		t.Fatal(err)
	}
	client := namedNode(t, "", nc)
	for range 2 {
		if _, err := client.Lookup(t.Context(), "svc", ScopeRemote); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if st := client.NameStats(); st.Confirmed != 2 || st.CacheHits != 0 {
		t.Errorf("stats %+v, want two confirmations after expiry", st)
	}
}

func TestNamesCacheBounded(t *testing.T) {
	var tb nameTable
	cfg := NameConfig{CacheSize: 4}.withDefaults()
	for i := range 100 {
		tb.putCacheLocked(fmt.Sprint("n", i), Peer{ID: NodeID(i + 1)}, cfg)
		if len(tb.cache) > 4 {
			t.Fatalf("cache holds %d names", len(tb.cache))
		}
	}
	if _, ok := tb.cache["n99"]; !ok {
		t.Error("the newest name was evicted")
	}
}

// forger answers every query it receives on its own socket (bound to the
// discovery port next to the real responders) with the answers of fn.
func forger(t *testing.T, port int, fn func(q discoveryPacket) []discoveryPacket) {
	t.Helper()
	lc := net.ListenConfig{Control: reuseAddrControl}
	pc, err := lc.ListenPacket(t.Context(), "udp4", "0.0.0.0:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	uc := pc.(*net.UDPConn)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := uc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q, err := parseDiscovery(buf[:k])
			if err != nil || q.Type != discoveryQuery {
				continue
			}
			_, _ = uc.WriteToUDPAddrPort([]byte("garbage"), from)
			for _, a := range fn(q) {
				b, err := appendDiscovery(nil, a)
				if err != nil {
					t.Error(err) // a bug in the test
					continue
				}
				_, _ = uc.WriteToUDPAddrPort(b, from)
			}
		}
	})
	t.Cleanup(func() {
		_ = uc.Close()
		wg.Wait()
	})
}

func TestNamesForgedAnswers(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	// decoy: a real msg node that does not hold the name.
	decoy := namedNode(t, "tcp://127.0.0.1:0", nc)
	echo(t, decoy)
	// A plain TCP listener that never speaks msg.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mute.Close() })
	forger(t, port, func(q discoveryPacket) []discoveryPacket {
		ans := func(nonce uint64, name string, node NodeID, addrs ...string) discoveryPacket {
			return discoveryPacket{Type: discoveryAnswer, Nonce: nonce, Name: name, Node: node, Addrs: addrs}
		}
		return []discoveryPacket{
			ans(q.Nonce+1, q.Name, 7, decoy.Addr()),                      // wrong nonce
			ans(q.Nonce, q.Name+"x", 7, decoy.Addr()),                    // wrong name
			ans(q.Nonce, q.Name, 7, "tcp://198.18.0.99:1"),               // not the host that answered
			ans(q.Nonce, q.Name, 7, decoy.Addr()),                        // claims another node id
			ans(q.Nonce, q.Name, decoy.ID(), decoy.Addr()),               // the right id, but the name is not held
			ans(q.Nonce, q.Name, 9, "tcp://"+mute.Addr().String()),       // a port that does not speak msg
			{Type: discoveryQuery, Nonce: q.Nonce, Name: q.Name},         // a query, not an answer
			ans(q.Nonce, q.Name, 0, decoy.Addr()),                        // node 0
			ans(q.Nonce, q.Name, 11, "inproc://names-local-a", "bogus:"), // no usable address
		}
	})
	nc.ConfirmTimeout = 300 * time.Millisecond
	client := namedNode(t, "", nc)
	if _, err := client.Lookup(t.Context(), "forged", ScopeRemote); !errors.Is(err, ErrNameNotFound) {
		t.Fatalf("Lookup with only forged answers = %v, want ErrNameNotFound", err)
	}
	st := client.NameStats()
	t.Logf("client stats %+v", st)
	if st.Confirmed != 0 || st.Unconfirmed != 3 || st.BadPackets == 0 || st.AnswersIgnored == 0 {
		t.Errorf("stats %+v: want 3 failed handshakes, bad packets and ignored answers", st)
	}
	// With the real holder present too, the lookup finds it.
	real := namedNode(t, "tcp://127.0.0.1:0", nc)
	if err := real.Register("forged", ScopeRemote); err != nil {
		t.Fatal(err)
	}
	p, err := client.Lookup(t.Context(), "forged", ScopeRemote)
	if err != nil || p.ID != real.ID() || p.Addr != real.Addr() {
		t.Fatalf("Lookup = %+v, %v; want %v at %s", p, err, real.ID(), real.Addr())
	}
}

func TestNamesQueryFlood(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	nc.AnswerRate = 20
	server := namedNode(t, "tcp://127.0.0.1:0", nc)
	if err := server.Register("flooded", ScopeRemote); err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port))
	q, _ := appendDiscovery(nil, discoveryPacket{Type: discoveryQuery, Nonce: 1, Name: "flooded"})
	const sent = 2000
	for i := range sent {
		b := q
		if i%2 == 1 {
			b = q[:len(q)-1] // a malformed one
		}
		if _, err := c.WriteToUDPAddrPort(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 2048)
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			break
		}
		got++
	}
	st := server.NameStats()
	t.Logf("%d queries, %d answers; server stats %+v", sent, got, st)
	if got == 0 || got > 3*nc.AnswerRate {
		t.Errorf("%d answers to a flood, want 1..%d", got, 3*nc.AnswerRate)
	}
	if st.QueriesLimited == 0 || st.BadPackets == 0 {
		t.Errorf("stats %+v: want limited queries and bad packets", st)
	}
	// The rate limit spares nothing for Lookups during the flood, but they
	// work again after it.
	time.Sleep(1100 * time.Millisecond)
	client := namedNode(t, "", nc)
	if _, err := client.Lookup(t.Context(), "flooded", ScopeRemote); err != nil {
		t.Fatal(err)
	}
}

func TestNamesMaxLookups(t *testing.T) {
	port := freeUDPPort(t)
	nc := loopbackNames(port)
	nc.MaxLookups = 1
	client := namedNode(t, "", nc)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = client.Lookup(context.Background(), "slow", ScopeRemote) })
	defer wg.Wait()
	for i := 0; ; i++ {
		client.names.mu.Lock()
		k := len(client.names.flights)
		client.names.mu.Unlock()
		if k == 1 {
			break
		}
		if i > 1000 {
			t.Fatal("the first lookup did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := client.Lookup(t.Context(), "other", ScopeRemote); !errors.Is(err, ErrBusy) {
		t.Errorf("second concurrent lookup = %v, want ErrBusy", err)
	}
	// A cancelled waiter returns at once; the flight goes on for others.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := client.Lookup(ctx, "slow", ScopeRemote); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Lookup = %v", err)
	}
	// Close ends the flight early.
	start := time.Now()
	_ = client.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with a lookup in flight", d)
	}
}

func TestPickAddr(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	remote := netip.MustParseAddr("198.18.0.10")
	for _, c := range []struct {
		addrs []string
		src   netip.Addr
		want  string
	}{
		{[]string{"tcp://0.0.0.0:5"}, remote, "tcp://198.18.0.10:5"},
		{[]string{"tcp://[::]:5"}, remote, "tcp://198.18.0.10:5"},
		{[]string{"tcp://198.18.0.10:5"}, remote, "tcp://198.18.0.10:5"},
		{[]string{"tcp://198.18.0.11:5"}, remote, ""},
		{[]string{"tcp://127.0.0.1:5"}, remote, ""},
		{[]string{"unix:///s"}, remote, ""},
		{[]string{"unix:///s", "tcp://127.0.0.1:5"}, lo, "unix:///s"},
		{[]string{"tcp://127.0.0.1:5"}, lo, "tcp://127.0.0.1:5"},
		{[]string{"tcp://127.0.0.1:0"}, lo, ""},
		{[]string{"inproc://x", "tcp://host:5"}, lo, ""},
	} {
		if got, _ := pickAddr(c.addrs, c.src); got != c.want {
			t.Errorf("pickAddr(%q, %v) = %q, want %q", c.addrs, c.src, got, c.want)
		}
	}
}
