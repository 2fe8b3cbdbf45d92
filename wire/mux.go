// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a [Mux]. The zero value means "all defaults": pollen
// frames, 16 MiB messages, no assembly timeout.
type Config struct {
	// Parser cuts each connection's byte stream into messages. Nil means
	// [Frames]. One Parser value is used for every connection of the mux,
	// from each connection's reader goroutine.
	Parser Parser
	// MaxMessageSize is the longest message accepted, header included. A
	// longer one aborts its connection with [ErrMessageTooLarge] before
	// anything is allocated for it. 0 means 16 MiB.
	MaxMessageSize int
	// AssemblyTimeout bounds the time from a message's first byte to its
	// last. A message still incomplete after it aborts its connection with
	// [ErrAssemblyTimeout]. For streamed messages the clock keeps running
	// while the receiver consumes the message. 0 means no limit.
	AssemblyTimeout time.Duration
	// ReceiveQueue is the number of complete messages, mux-wide, that may
	// wait for a receiver. When it is full, connection readers stop reading
	// and TCP flow control pushes back on the peer. 0 means 64.
	ReceiveQueue int
	// StreamThreshold is the length from which a message is delivered as a
	// stream read straight from its connection instead of being buffered
	// (unless it already arrived whole in the read buffer, which only
	// happens when StreamThreshold < ReadBufferSize). 0 means 1 MiB.
	StreamThreshold int
	// ReadBufferSize is each connection's read buffer. Messages that fit are
	// cut from it with one copy; larger ones are read straight into their
	// own buffer. 0 means 64 KiB.
	ReadBufferSize int
	// OnAbort, if not nil, is called once for each aborted connection, after
	// the connection was detached and closed, from the goroutine that found
	// the error. It must not block for long.
	OnAbort func(*AbortError)
}

// Defaults applied by [NewMux].
const (
	defaultMaxMessageSize  = 16 << 20
	defaultReceiveQueue    = 64
	defaultStreamThreshold = 1 << 20
	defaultReadBufferSize  = 64 << 10
	minReadBufferSize      = 512
)

// withDefaults returns cfg with zero fields replaced by their defaults, or an
// error for values that cannot work.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Parser == nil {
		cfg.Parser = Frames()
	}
	if lp, ok := cfg.Parser.(LengthPrefix); ok {
		if err := lp.Validate(); err != nil {
			return cfg, err
		}
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = defaultMaxMessageSize
	}
	if cfg.ReceiveQueue == 0 {
		cfg.ReceiveQueue = defaultReceiveQueue
	}
	if cfg.StreamThreshold == 0 {
		cfg.StreamThreshold = defaultStreamThreshold
	}
	if cfg.ReadBufferSize == 0 {
		cfg.ReadBufferSize = defaultReadBufferSize
	}
	switch {
	case cfg.MaxMessageSize < 0:
		return cfg, fmt.Errorf("wire: config: negative MaxMessageSize %d", cfg.MaxMessageSize)
	case cfg.AssemblyTimeout < 0:
		return cfg, fmt.Errorf("wire: config: negative AssemblyTimeout %v", cfg.AssemblyTimeout)
	case cfg.ReceiveQueue < 0:
		return cfg, fmt.Errorf("wire: config: negative ReceiveQueue %d", cfg.ReceiveQueue)
	case cfg.StreamThreshold < 0:
		return cfg, fmt.Errorf("wire: config: negative StreamThreshold %d", cfg.StreamThreshold)
	case cfg.ReadBufferSize < minReadBufferSize:
		return cfg, fmt.Errorf("wire: config: ReadBufferSize %d below %d", cfg.ReadBufferSize, minReadBufferSize)
	}
	return cfg, nil
}

// A Mux multiplexes messages over the TCP (or other stream) connections
// attached to it, all of which are assumed to lead to the same peer: one
// logical destination. Messages are sent and received through its [Socket]s,
// which are all equivalent. Connection management (dialing, reconnecting,
// handshakes) stays with the caller, who attaches connections with
// [Mux.Attach] and takes them back with [Mux.Detach].
//
// Each attached connection has one reader goroutine, owned by the mux, that
// cuts its stream into messages with the configured [Parser] and queues them
// for any receiving socket; while it is the only connection, a receiving
// socket that finds the queue empty does that work itself instead, saving
// a goroutine hand-off per message. Sends run in the sender's goroutine.
//
// A Mux is safe for concurrent use. It must be created with [NewMux].
type Mux struct {
	cfg    Config
	parser Parser
	ready  chan *Message // complete messages waiting for a receiver

	closing  atomic.Bool
	closedCh chan struct{} // closed by Close
	wg       sync.WaitGroup

	// live is the attached connections as an immutable snapshot, read by
	// senders without locking; it is replaced under mu.
	live atomic.Pointer[[]*conn]
	rr   atomic.Uint32 // rotates the start of the least-loaded scan

	// single is the attached connection while there is exactly one, nil
	// otherwise: only then do receivers read for themselves (rx.go).
	single  atomic.Pointer[conn]
	waiting atomic.Int64 // receivers waiting on ready
	queued  atomic.Int64 // messages put on ready and not yet taken
	// received counts the bytes read from the connections, parts of
	// messages still arriving included (Received).
	received atomic.Uint64
	// idleAfter is how long receivers may leave a connection unread
	// before its reader goroutine reads ahead (tests lengthen it).
	idleAfter time.Duration

	mu       sync.Mutex // guards the following fields
	closed   bool
	conns    []*conn
	byNet    map[net.Conn]*conn
	sockets  map[*Socket]struct{}
	attachCh chan struct{} // closed and replaced on every attach
	nextID   int

	nextSocketID   atomic.Int64
	retiredConns   connCounters // folded from detached connections
	retiredSockets sockCounters // folded from closed sockets
	attaches       atomic.Uint64
	detaches       atomic.Uint64
	aborts         atomic.Uint64
	txRetries      atomic.Uint64
}

// NewMux returns a mux with no connections and no sockets.
func NewMux(cfg Config) (*Mux, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Mux{
		cfg:      cfg,
		parser:   cfg.Parser,
		ready:    make(chan *Message, cfg.ReceiveQueue),
		closedCh: make(chan struct{}),
		byNet:    map[net.Conn]*conn{},
		sockets:  map[*Socket]struct{}{},
		attachCh: make(chan struct{}),

		idleAfter: defaultIdleAfter,
	}
	m.live.Store(new([]*conn))
	return m, nil
}

// Attach hands c to the mux: from now on the mux reads c (bytes already
// buffered in the kernel included) and sends messages on it. The caller must
// not read from or write to c until it is detached. Attaching a connection
// twice is [ErrAlreadyAttached]; attaching to a closed mux is [ErrClosed].
func (m *Mux) Attach(c net.Conn) error {
	if c == nil {
		return errors.New("wire: attach nil connection")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.byNet[c]; ok {
		return ErrAlreadyAttached
	}
	m.nextID++
	cn := newConn(m, c, m.nextID)
	m.byNet[c] = cn
	m.conns = append(m.conns, cn)
	m.publishLocked()
	close(m.attachCh)
	m.attachCh = make(chan struct{})
	m.attaches.Add(1)
	m.wg.Add(1)
	go cn.readLoop()
	return nil
}

// publishLocked republishes the snapshot of attached connections. A
// connection that stops being the only one has its receiving token holder
// interrupted, so that a receiver blocked on it does not miss messages
// arriving on another; one that becomes the only one has its reader
// goroutine woken to reconsider.
func (m *Mux) publishLocked() {
	s := append([]*conn(nil), m.conns...)
	m.live.Store(&s)
	var one *conn
	if len(s) == 1 {
		one = s[0]
	}
	if old := m.single.Swap(one); old != one {
		if old != nil {
			old.interrupt(nil)
		}
		if one != nil {
			one.interrupt(nil)
		}
	}
}

// Detach takes c back from the mux and returns after c's reader stopped and
// no message is being written to it; c stays open and belongs to the caller
// again. Messages queued on c but not yet written are sent on other
// connections; a complete message c's reader could not yet deliver is
// dropped (counted in RxReadyDrops) and a streamed message being read from c
// fails with [ErrTruncatedMessage]. Bytes the reader had already read
// beyond the last delivered message are dropped, so detaching a connection
// whose peer is still sending leaves it at an arbitrary point of the
// stream; detach after the peer stopped sending (or close the connection)
// to keep the framing. Detach waits for a write in progress, which a peer
// that stopped reading can block. Detaching a connection that is not
// attached is [ErrNotAttached].
func (m *Mux) Detach(c net.Conn) error {
	m.mu.Lock()
	cn, ok := m.byNet[c]
	m.mu.Unlock()
	if !ok {
		return ErrNotAttached
	}
	if !cn.shutdown(nil, false) {
		return ErrNotAttached
	}
	return nil
}

// removeLocked unlinks cn from the mux and reports whether it was attached.
func (m *Mux) removeLocked(cn *conn) bool {
	if m.byNet[cn.nc] != cn {
		return false
	}
	delete(m.byNet, cn.nc)
	for i, x := range m.conns {
		if x == cn {
			m.conns = append(m.conns[:i], m.conns[i+1:]...)
			break
		}
	}
	m.publishLocked()
	return true
}

// NewSocket returns a new socket of the mux. All sockets of a mux are
// equivalent: any of them may receive any message. On a closed mux the
// socket is returned closed.
func (m *Mux) NewSocket() *Socket {
	s := &Socket{
		m:      m,
		id:     int(m.nextSocketID.Add(1)),
		closed: make(chan struct{}),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.closeOnce.Do(func() { close(s.closed) })
		return s
	}
	m.sockets[s] = struct{}{}
	return s
}

// Close closes every socket, detaches every connection (leaving them open:
// they belong to the caller), drops undelivered messages and returns after
// the mux's goroutines have exited. Pending and future calls return
// [ErrClosed]. A message being written when Close is called may be cut
// short, so a connection taken back this way may end in the middle of a
// message. Close is idempotent; it always returns nil.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return nil
	}
	m.closed = true
	m.closing.Store(true)
	close(m.closedCh)
	conns := append([]*conn(nil), m.conns...)
	socks := make([]*Socket, 0, len(m.sockets))
	for s := range m.sockets {
		socks = append(socks, s)
	}
	m.mu.Unlock()

	for _, s := range socks {
		_ = s.Close()
	}
	for _, c := range conns {
		// A write blocked on a peer that stopped reading would hold the
		// shutdown forever: cut it short.
		_ = c.nc.SetWriteDeadline(aLongTimeAgo)
		c.shutdown(nil, false)
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	m.wg.Wait()
	m.drainReady()
	return nil
}

// drainReady releases every queued message.
func (m *Mux) drainReady() {
	for {
		select {
		case msg := <-m.ready:
			m.queued.Add(-1)
			msg.Release()
		default:
			return
		}
	}
}

// pick returns the least-loaded attached connection, waiting for one to be
// attached until ctx is done or the mux or the socket s is closed.
func (m *Mux) pick(ctx context.Context, s *Socket) (*conn, error) {
	for {
		if m.closing.Load() {
			return nil, ErrClosed
		}
		cs := *m.live.Load()
		switch len(cs) {
		case 0:
		case 1:
			return cs[0], nil
		default:
			n := uint32(len(cs))
			start := m.rr.Add(1)
			var best *conn
			var bestLoad int64
			for i := range n {
				c := cs[(start+i)%n]
				l := c.load.Load()
				if best == nil || l < bestLoad {
					best, bestLoad = c, l
					if l == 0 {
						break
					}
				}
			}
			return best, nil
		}
		m.mu.Lock()
		ch, closed, n := m.attachCh, m.closed, len(m.conns)
		m.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if n > 0 {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.closedCh:
			return nil, ErrClosed
		case <-s.closed:
			return nil, ErrClosed
		}
	}
}
