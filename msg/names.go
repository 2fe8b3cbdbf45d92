// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Name errors. Match them with [errors.Is].
var (
	// ErrBadName reports a name that is empty, longer than [MaxNameLen],
	// not UTF-8 or holds control characters.
	ErrBadName = errors.New("msg: bad name")
	// ErrNameInUse reports a local registration of a name another live node
	// of this process holds.
	ErrNameInUse = errors.New("msg: name registered by another node")
	// ErrNameNotFound reports a name no node answered for (or none that
	// answered could be confirmed) within the lookup's attempts.
	ErrNameNotFound = errors.New("msg: name not found")
	// ErrNotListening reports a registration by a node without an address
	// the scope can reach.
	ErrNotListening = errors.New("msg: node has no address for this scope")
)

// A Scope says where a name is visible ([Node.Register]) or looked for
// ([Node.Lookup]), as in the V kernel's SetPid/GetPid.
type Scope uint8

// Scopes.
const (
	// ScopeLocal is this process: nodes registered here are found without
	// any packet.
	ScopeLocal Scope = 1 << iota
	// ScopeRemote is other processes and hosts, reached by a discovery query
	// broadcast on the local network (see [NameConfig]).
	ScopeRemote
	// ScopeBoth is local first, then remote.
	ScopeBoth = ScopeLocal | ScopeRemote
)

// String returns "local", "remote" or "both".
func (s Scope) String() string {
	switch s {
	case ScopeLocal:
		return "local"
	case ScopeRemote:
		return "remote"
	case ScopeBoth:
		return "both"
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

func (s Scope) valid() bool { return s != 0 && s&^ScopeBoth == 0 }

// nameTable is a node's part of the naming service. Its zero value is
// ready; [Node.ConfigureNames] replaces the defaults before first use.
type nameTable struct {
	mu         sync.Mutex // guards the following
	cfg        NameConfig // with defaults once used
	used       bool       // cfg is fixed
	remote     map[string]struct{}
	local      map[string]struct{}
	responder  bool // the discovery responder runs
	cache      map[string]cachedName
	flights    map[string]*flight
	answerLeft int       // responder: answers left in this second
	answerSec  time.Time // responder: start of the current second

	stats nameCounters
}

// A cachedName is a confirmed remote name.
type cachedName struct {
	peer    Peer
	expires time.Time
}

// A flight is a remote lookup in progress, shared by concurrent Lookups of
// one name.
type flight struct {
	done chan struct{} // closed when peer and err are set
	peer Peer
	err  error
}

// NameStats counts the naming service's events, from [Node.NameStats].
type NameStats struct {
	QueriesSent     uint64 // discovery query packets sent
	QueriesAnswered uint64 // queries for a name of ours that we answered
	QueriesLimited  uint64 // queries for a name of ours dropped by the rate limit
	BadPackets      uint64 // undecodable discovery packets
	AnswersIgnored  uint64 // answers not matching an outstanding query, or with no usable address
	Confirmed       uint64 // answers confirmed by a handshake with the named node
	Unconfirmed     uint64 // answers whose handshake failed or named another node
	CacheHits       uint64 // remote lookups answered from the cache
}

type nameCounters struct {
	queriesSent, queriesAnswered, queriesLimited, badPackets,
	answersIgnored, confirmed, unconfirmed, cacheHits atomic.Uint64
}

// NameStats returns a snapshot of the naming service's counters.
func (n *Node) NameStats() NameStats {
	c := &n.names.stats
	return NameStats{
		QueriesSent:     c.queriesSent.Load(),
		QueriesAnswered: c.queriesAnswered.Load(),
		QueriesLimited:  c.queriesLimited.Load(),
		BadPackets:      c.badPackets.Load(),
		AnswersIgnored:  c.answersIgnored.Load(),
		Confirmed:       c.confirmed.Load(),
		Unconfirmed:     c.unconfirmed.Load(),
		CacheHits:       c.cacheHits.Load(),
	}
}

// ConfigureNames sets the node's naming configuration. It must be called
// before the node's first Register or Lookup.
func (n *Node) ConfigureNames(cfg NameConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	t := &n.names
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.used {
		return errors.New("msg: ConfigureNames after the first Register or Lookup")
	}
	t.cfg = cfg
	return nil
}

// config fixes and returns the naming configuration; t.mu is held.
func (t *nameTable) configLocked() NameConfig {
	if !t.used {
		t.used = true
		t.cfg = t.cfg.withDefaults()
	}
	return t.cfg
}

// localNames is the process-wide table of names registered with
// [ScopeLocal], like the inproc address space.
var localNames struct {
	sync.Mutex // guards m
	m          map[string]*Node
}

// Register makes name find this node: with [ScopeLocal] for Lookups in
// this process, with [ScopeRemote] for Lookups elsewhere (the node answers
// discovery queries for it; see [NameConfig]). The node must already listen
// on an address the scope can use: any for local, "tcp://" or "unix://"
// for remote. Registering a name again replaces its scope. A name
// registered by several processes is found at whichever answers first.
func (n *Node) Register(name string, scope Scope) error {
	if err := checkName(name); err != nil {
		return err
	}
	if !scope.valid() {
		return fmt.Errorf("msg: register %q: scope %v: %w", name, scope, ErrBadName)
	}
	select {
	case <-n.closed:
		return ErrClosed
	default:
	}
	if scope&ScopeRemote != 0 && len(n.remoteAddrs()) == 0 {
		return fmt.Errorf("msg: register %q for remote lookups: listen on tcp:// or unix:// first: %w", name, ErrNotListening)
	}
	if scope&ScopeLocal != 0 && n.Addr() == "" {
		return fmt.Errorf("msg: register %q: listen first: %w", name, ErrNotListening)
	}
	t := &n.names
	t.mu.Lock()
	defer t.mu.Unlock()
	cfg := t.configLocked()
	if scope&ScopeRemote != 0 && !t.responder {
		if err := n.startResponder(cfg); err != nil {
			return err
		}
		t.responder = true
	}
	if scope&ScopeLocal != 0 {
		if err := n.registerLocal(name); err != nil {
			return err
		}
		if t.local == nil {
			t.local = map[string]struct{}{}
		}
		t.local[name] = struct{}{}
	} else if _, ok := t.local[name]; ok {
		n.unregisterLocal(name)
		delete(t.local, name)
	}
	if scope&ScopeRemote != 0 {
		if t.remote == nil {
			t.remote = map[string]struct{}{}
		}
		t.remote[name] = struct{}{}
	} else {
		delete(t.remote, name)
	}
	return nil
}

// Unregister withdraws name in every scope. Unknown names are ignored.
// Remote nodes may still find the name in their caches until it expires.
func (n *Node) Unregister(name string) {
	t := &n.names
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.local[name]; ok {
		n.unregisterLocal(name)
		delete(t.local, name)
	}
	delete(t.remote, name)
}

// registerLocal enters name in the process table; the caller holds
// n.names.mu.
func (n *Node) registerLocal(name string) error {
	localNames.Lock()
	defer localNames.Unlock()
	if other := localNames.m[name]; other != nil && other != n && !other.isClosed() {
		return fmt.Errorf("msg: register %q: %w", name, ErrNameInUse)
	}
	if localNames.m == nil {
		localNames.m = map[string]*Node{}
	}
	for k, m := range localNames.m { // forget closed nodes
		if m.isClosed() {
			delete(localNames.m, k)
		}
	}
	localNames.m[name] = n
	return nil
}

func (n *Node) unregisterLocal(name string) {
	localNames.Lock()
	defer localNames.Unlock()
	if localNames.m[name] == n {
		delete(localNames.m, name)
	}
}

func (n *Node) isClosed() bool {
	select {
	case <-n.closed:
		return true
	default:
		return false
	}
}

// remoteAddrs returns the node's addresses another process can dial.
func (n *Node) remoteAddrs() []string {
	var out []string
	for _, a := range n.Addrs() {
		if (strings.HasPrefix(a, "tcp://") || strings.HasPrefix(a, "unix://")) && len(a) <= maxAnswerAddrLen && len(out) < maxAnswerAddrs {
			out = append(out, a)
		}
	}
	return out
}

// Lookup finds the node registered under name. With [ScopeLocal] it looks
// in this process; with [ScopeRemote] it asks the local network (a
// discovery query, retransmitted [NameConfig.Attempts] times) and confirms
// an answer with a handshake: a request to the answering node's address
// that the node itself (not its application) answers with its id and
// whether it holds the name. Only a confirmed answer is returned, and
// cached for [NameConfig.CacheTTL]. [ScopeBoth] looks locally first.
//
// The returned Peer's Addr is what to [Node.Send] to; a local name gives
// the node's "inproc://" address if it has one. A name nobody holds is
// [ErrNameNotFound]; more concurrent remote lookups than
// [NameConfig.MaxLookups] fail with [ErrBusy].
func (n *Node) Lookup(ctx context.Context, name string, scope Scope) (Peer, error) {
	if err := checkName(name); err != nil {
		return Peer{}, err
	}
	if !scope.valid() {
		return Peer{}, fmt.Errorf("msg: lookup %q: scope %v: %w", name, scope, ErrBadName)
	}
	if n.isClosed() {
		return Peer{}, ErrClosed
	}
	t := &n.names
	t.mu.Lock()
	cfg := t.configLocked()
	t.mu.Unlock()
	if scope&ScopeLocal != 0 {
		if p, ok := lookupLocal(name); ok {
			return p, nil
		}
		if scope == ScopeLocal {
			return Peer{}, fmt.Errorf("msg: lookup %q in this process: %w", name, ErrNameNotFound)
		}
	}
	t.mu.Lock()
	if c, ok := t.cache[name]; ok {
		if time.Now().Before(c.expires) {
			t.mu.Unlock()
			t.stats.cacheHits.Add(1)
			return c.peer, nil
		}
		delete(t.cache, name)
	}
	f := t.flights[name]
	if f == nil {
		if len(t.flights) >= cfg.MaxLookups {
			t.mu.Unlock()
			return Peer{}, fmt.Errorf("msg: lookup %q: %d lookups in flight: %w", name, len(t.flights), ErrBusy)
		}
		f = &flight{done: make(chan struct{})}
		if t.flights == nil {
			t.flights = map[string]*flight{}
		}
		t.flights[name] = f
		if !n.goroutine(func() { n.fly(name, f, cfg) }) { // lock order: names.mu, then n.mu
			delete(t.flights, name)
			t.mu.Unlock()
			return Peer{}, ErrClosed
		}
	}
	t.mu.Unlock()
	select {
	case <-f.done:
		return f.peer, f.err
	case <-ctx.Done():
		return Peer{}, fmt.Errorf("msg: lookup %q: %w", name, ctx.Err())
	}
}

// fly runs one remote lookup for every Lookup waiting on f.
func (n *Node) fly(name string, f *flight, cfg NameConfig) {
	p, err := n.queryRemote(n.ctx, name, cfg)
	t := &n.names
	t.mu.Lock()
	delete(t.flights, name)
	if err == nil {
		t.putCacheLocked(name, p, cfg)
	}
	t.mu.Unlock()
	f.peer, f.err = p, err
	close(f.done)
}

// putCacheLocked caches a confirmed name, evicting expired entries and then
// the one closest to expiry when the cache is full.
func (t *nameTable) putCacheLocked(name string, p Peer, cfg NameConfig) {
	now := time.Now()
	if t.cache == nil {
		t.cache = map[string]cachedName{}
	}
	if _, ok := t.cache[name]; !ok && len(t.cache) >= cfg.CacheSize {
		victim, first := "", time.Time{}
		for k, c := range t.cache {
			if !c.expires.After(now) {
				delete(t.cache, k)
				continue
			}
			if victim == "" || c.expires.Before(first) {
				victim, first = k, c.expires
			}
		}
		if len(t.cache) >= cfg.CacheSize {
			delete(t.cache, victim)
		}
	}
	t.cache[name] = cachedName{peer: p, expires: now.Add(cfg.CacheTTL)}
}

// ForgetName drops name from the node's cache of remote names, so that the
// next Lookup asks the network again (for example after a Send to the
// cached address failed).
func (n *Node) ForgetName(name string) {
	t := &n.names
	t.mu.Lock()
	delete(t.cache, name)
	t.mu.Unlock()
}

// lookupLocal returns the live node registered under name in this process.
func lookupLocal(name string) (Peer, bool) {
	localNames.Lock()
	m := localNames.m[name]
	if m != nil && m.isClosed() {
		delete(localNames.m, name)
		m = nil
	}
	localNames.Unlock()
	if m == nil {
		return Peer{}, false
	}
	addrs := m.Addrs()
	if len(addrs) == 0 {
		return Peer{}, false
	}
	addr := addrs[0]
	for _, a := range addrs {
		if strings.HasPrefix(a, "inproc://") {
			addr = a
			break
		}
	}
	return Peer{ID: m.id, Addr: addr}, true
}

// The handshake that confirms a discovery answer is an ordinary request
// whose message starts with probeMagic; the receiving node answers it
// itself, before its queue (answerNameProbe).
//
//	probe:  probeMagic | nonce u64 | name
//	answer: probeAnswerMagic | node u64 | nonce u64 | held u8 (1 if the node holds name for remote lookups)
const (
	probeMagic       = "\x00PMSG-NAME?\x00\xff"
	probeAnswerMagic = "\x00PMSG-NAME!\x00\xff"
)

// answerNameProbe answers tx if it is a name probe, and reports whether it
// was. It runs on the session's reader before the request is queued.
func (n *Node) answerNameProbe(tx *txn, gen uint64) bool {
	m := tx.msg
	if len(m) < len(probeMagic)+8 || string(m[:len(probeMagic)]) != probeMagic {
		return false
	}
	nonce := binary.BigEndian.Uint64(m[len(probeMagic):])
	t := &n.names
	t.mu.Lock()
	_, held := t.remote[string(m[len(probeMagic)+8:])]
	t.mu.Unlock()
	b := make([]byte, 0, len(probeAnswerMagic)+17)
	b = append(b, probeAnswerMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(n.id))
	b = binary.BigEndian.AppendUint64(b, nonce)
	if held {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	r := Request{tx: tx, gen: gen}
	_ = r.Reply(b) // an undelivered reply waits in the cache as usual
	return true
}

// confirm sends a name probe to addr and checks that the node there is id
// and holds name.
func (n *Node) confirm(ctx context.Context, addr string, id NodeID, name string) error {
	nonce := randUint64()
	m := make([]byte, 0, len(probeMagic)+8+len(name))
	m = append(m, probeMagic...)
	m = binary.BigEndian.AppendUint64(m, nonce)
	m = append(m, name...)
	r, err := n.Send(ctx, addr, m)
	if err != nil {
		return err
	}
	if len(r) != len(probeAnswerMagic)+17 || string(r[:len(probeAnswerMagic)]) != probeAnswerMagic {
		return fmt.Errorf("msg: name probe of %s: answer %q: %w", addr, r, ErrProtocol)
	}
	r = r[len(probeAnswerMagic):]
	got := NodeID(binary.BigEndian.Uint64(r))
	switch {
	case binary.BigEndian.Uint64(r[8:]) != nonce:
		return fmt.Errorf("msg: name probe of %s: nonce mismatch: %w", addr, ErrProtocol)
	case got != id:
		return fmt.Errorf("msg: name probe of %s: node %v, the answer said %v: %w", addr, got, id, ErrNameNotFound)
	case r[16] != 1:
		return fmt.Errorf("msg: name probe of %s: node %v does not hold %q: %w", addr, got, name, ErrNameNotFound)
	}
	return nil
}
