// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// Stats is a snapshot of a mux's counters, returned by [Mux.Stats]. Counters
// of detached connections and closed sockets are folded into the mux totals,
// never lost. After all received messages have been consumed,
// Mux.RxMsgs = Σ Sockets[i].RxMsgs + closed sockets' = Σ Conns[i].RxMsgs +
// detached conns', less Mux.RxReadyDrops.
type Stats struct {
	Mux     MuxStats      // totals over the mux's lifetime
	Conns   []ConnStats   // one per attached connection, in attach order
	Sockets []SocketStats // one per open socket, in creation order
}

// ConnCounters are the per-connection counters (the names follow Linux KCM's
// psock statistics). Messages and bytes count whole wire messages, headers
// included.
type ConnCounters struct {
	RxMsgs         uint64 // messages cut from the stream
	RxBytes        uint64 // bytes of those messages
	RxReads        uint64 // read system calls (or Read calls) that returned data
	RxNeedMore     uint64 // times the parser asked for more bytes
	RxTooBig       uint64 // messages over Config.MaxMessageSize
	RxBadLen       uint64 // parser lengths that could not be right
	RxTimeouts     uint64 // messages not complete within Config.AssemblyTimeout
	RxParserErrors uint64 // errors returned by the parser
	RxTruncated    uint64 // connections that ended in the middle of a message
	RxAborts       uint64 // connections aborted on the receive side
	RxReadyDrops   uint64 // complete messages dropped by a detach before delivery
	TxMsgs         uint64 // messages written completely
	TxBytes        uint64 // bytes of those messages
	TxWrites       uint64 // vectored writes (message batches) started
	TxFiles        uint64 // file payloads sent with sendfile
	TxAborts       uint64 // connections aborted by a failed write
}

// ConnStats is the snapshot of one attached connection.
type ConnStats struct {
	ID         int    // attach sequence number within the mux
	LocalAddr  string // the connection's local address
	RemoteAddr string // the connection's remote address
	TxQueued   int64  // bytes queued or being written now (the load used to pick connections)
	ConnCounters
}

// SocketStats is the snapshot of one socket.
type SocketStats struct {
	ID              int    // creation sequence number within the mux
	RxMsgs          uint64 // messages received
	RxBytes         uint64 // bytes of those messages
	TxMsgs          uint64 // messages sent
	TxBytes         uint64 // bytes of those messages
	TxRetries       uint64 // messages sent again after their connection failed
	ReceiveDisabled bool   // whether receiving is disabled
}

// MuxStats holds the mux totals.
type MuxStats struct {
	ConnCounters          // totals over all connections ever attached
	Attached       int    // connections attached now
	Sockets        int    // sockets open now
	ReadyQueue     int    // complete messages waiting for a receiver
	ReadyQueueCap  int    // Config.ReceiveQueue
	Attaches       uint64 // successful Attach calls
	Detaches       uint64 // connections detached (by Detach, abort, peer close or Close)
	Aborts         uint64 // connections aborted (a subset of Detaches)
	TxRetries      uint64 // messages sent again after their connection failed
	SocketRxMsgs   uint64 // messages received by all sockets ever opened
	SocketRxBytes  uint64 // bytes of those messages
	SocketTxMsgs   uint64 // messages sent by all sockets ever opened
	SocketTxBytes  uint64 // bytes of those messages
	SocketsCreated uint64 // sockets ever created
}

// connCounters is the atomic form of ConnCounters.
type connCounters struct {
	rxMsgs, rxBytes, rxReads, rxNeedMore, rxTooBig, rxBadLen, rxTimeouts,
	rxParserErrors, rxTruncated, rxAborts, rxReadyDrops,
	txMsgs, txBytes, txWrites, txFiles, txAborts atomic.Uint64
}

func (c *connCounters) snapshot() ConnCounters {
	return ConnCounters{
		RxMsgs: c.rxMsgs.Load(), RxBytes: c.rxBytes.Load(), RxReads: c.rxReads.Load(),
		RxNeedMore: c.rxNeedMore.Load(), RxTooBig: c.rxTooBig.Load(), RxBadLen: c.rxBadLen.Load(),
		RxTimeouts: c.rxTimeouts.Load(), RxParserErrors: c.rxParserErrors.Load(),
		RxTruncated: c.rxTruncated.Load(), RxAborts: c.rxAborts.Load(), RxReadyDrops: c.rxReadyDrops.Load(),
		TxMsgs: c.txMsgs.Load(), TxBytes: c.txBytes.Load(), TxWrites: c.txWrites.Load(),
		TxFiles: c.txFiles.Load(), TxAborts: c.txAborts.Load(),
	}
}

// add adds s to c.
func (c *connCounters) add(s ConnCounters) {
	c.rxMsgs.Add(s.RxMsgs)
	c.rxBytes.Add(s.RxBytes)
	c.rxReads.Add(s.RxReads)
	c.rxNeedMore.Add(s.RxNeedMore)
	c.rxTooBig.Add(s.RxTooBig)
	c.rxBadLen.Add(s.RxBadLen)
	c.rxTimeouts.Add(s.RxTimeouts)
	c.rxParserErrors.Add(s.RxParserErrors)
	c.rxTruncated.Add(s.RxTruncated)
	c.rxAborts.Add(s.RxAborts)
	c.rxReadyDrops.Add(s.RxReadyDrops)
	c.txMsgs.Add(s.TxMsgs)
	c.txBytes.Add(s.TxBytes)
	c.txWrites.Add(s.TxWrites)
	c.txFiles.Add(s.TxFiles)
	c.txAborts.Add(s.TxAborts)
}

// addTo adds s to t field by field.
func (s ConnCounters) addTo(t *ConnCounters) {
	t.RxMsgs += s.RxMsgs
	t.RxBytes += s.RxBytes
	t.RxReads += s.RxReads
	t.RxNeedMore += s.RxNeedMore
	t.RxTooBig += s.RxTooBig
	t.RxBadLen += s.RxBadLen
	t.RxTimeouts += s.RxTimeouts
	t.RxParserErrors += s.RxParserErrors
	t.RxTruncated += s.RxTruncated
	t.RxAborts += s.RxAborts
	t.RxReadyDrops += s.RxReadyDrops
	t.TxMsgs += s.TxMsgs
	t.TxBytes += s.TxBytes
	t.TxWrites += s.TxWrites
	t.TxFiles += s.TxFiles
	t.TxAborts += s.TxAborts
}

// sockCounters are a socket's atomic counters.
type sockCounters struct {
	rxMsgs, rxBytes, txMsgs, txBytes, txRetries atomic.Uint64
}

// Received returns how many bytes the mux has read from its connections so
// far, the parts of messages still arriving included. It grows while a long
// message streams in, which the message counters of [Mux.Stats] count only
// once it is whole: a caller can tell a busy connection from a dead one.
func (m *Mux) Received() uint64 { return m.received.Load() }

// Stats returns a snapshot of the mux's counters. It is safe to call
// concurrently with everything else; the fields are read one by one, so a
// snapshot taken under load is not an instant.
func (m *Mux) Stats() Stats {
	var st Stats
	m.mu.Lock()
	conns := append([]*conn(nil), m.conns...)
	socks := make([]*Socket, 0, len(m.sockets))
	for s := range m.sockets {
		socks = append(socks, s)
	}
	m.mu.Unlock()

	total := m.retiredConns.snapshot()
	for _, c := range conns {
		cs := ConnStats{
			ID:           c.id,
			TxQueued:     c.load.Load(),
			ConnCounters: c.stats.snapshot(),
		}
		if a := c.nc.LocalAddr(); a != nil {
			cs.LocalAddr = a.String()
		}
		if a := c.nc.RemoteAddr(); a != nil {
			cs.RemoteAddr = a.String()
		}
		cs.addTo(&total)
		st.Conns = append(st.Conns, cs)
	}
	slices.SortFunc(st.Conns, func(a, b ConnStats) int { return cmp.Compare(a.ID, b.ID) })

	mx := &st.Mux
	mx.SocketRxMsgs = m.retiredSockets.rxMsgs.Load()
	mx.SocketRxBytes = m.retiredSockets.rxBytes.Load()
	mx.SocketTxMsgs = m.retiredSockets.txMsgs.Load()
	mx.SocketTxBytes = m.retiredSockets.txBytes.Load()
	for _, s := range socks {
		ss := s.snapshot()
		mx.SocketRxMsgs += ss.RxMsgs
		mx.SocketRxBytes += ss.RxBytes
		mx.SocketTxMsgs += ss.TxMsgs
		mx.SocketTxBytes += ss.TxBytes
		st.Sockets = append(st.Sockets, ss)
	}
	slices.SortFunc(st.Sockets, func(a, b SocketStats) int { return cmp.Compare(a.ID, b.ID) })

	mx.ConnCounters = total
	mx.Attached = len(conns)
	mx.Sockets = len(socks)
	mx.ReadyQueue = len(m.ready)
	mx.ReadyQueueCap = cap(m.ready)
	mx.Attaches = m.attaches.Load()
	mx.Detaches = m.detaches.Load()
	mx.Aborts = m.aborts.Load()
	mx.TxRetries = m.txRetries.Load()
	mx.SocketsCreated = uint64(m.nextSocketID.Load())
	return st
}

func (s *Socket) snapshot() SocketStats {
	return SocketStats{
		ID:              s.id,
		RxMsgs:          s.stats.rxMsgs.Load(),
		RxBytes:         s.stats.rxBytes.Load(),
		TxMsgs:          s.stats.txMsgs.Load(),
		TxBytes:         s.stats.txBytes.Load(),
		TxRetries:       s.stats.txRetries.Load(),
		ReceiveDisabled: s.rxDisabled.Load(),
	}
}
