// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/piece"
	"github.com/pollen-dev/pollen/internal/proto"
)

// schedClient is the daemon's session with the scheduler: proto messages
// sent with msg. Registration is lazy and numbered: every successful
// Register gets a new generation, and a task (or seed) joined under an
// older generation joins again, because a re-registration makes the
// scheduler forget the peer's tasks.
type schedClient struct {
	d *Daemon

	regMu sync.Mutex // serializes registrations; taken before mu

	mu        sync.Mutex // guards the following fields
	addr      string     // msg address of the scheduler, "tcp://host:port"
	gen       uint64     // current registration, 0 when not registered
	lastGen   uint64     // last generation handed out
	heartbeat time.Duration
}

// configured reports whether the daemon has (or may find) a scheduler.
func (c *schedClient) configured() bool {
	return c.d.cfg.Scheduler != "" || c.d.cfg.LookupScheduler != nil
}

// registered reports whether a registration is current.
func (c *schedClient) registered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen != 0
}

// resolve returns the scheduler's host:port. It is the hook for msg's name
// lookup: Config.LookupScheduler is consulted when no address is set.
func (c *schedClient) resolve(ctx context.Context) (string, error) {
	if c.d.cfg.Scheduler != "" {
		return c.d.cfg.Scheduler, nil
	}
	if c.d.cfg.LookupScheduler != nil {
		return c.d.cfg.LookupScheduler(ctx)
	}
	return "", errNoScheduler
}

// ensure returns the current registration, registering first if there is
// none.
func (c *schedClient) ensure(ctx context.Context) (string, uint64, error) {
	c.mu.Lock()
	addr, gen := c.addr, c.gen
	c.mu.Unlock()
	if gen != 0 {
		return addr, gen, nil
	}
	c.regMu.Lock()
	defer c.regMu.Unlock()
	c.mu.Lock()
	addr, gen = c.addr, c.gen
	c.mu.Unlock()
	if gen != 0 {
		return addr, gen, nil // someone else registered meanwhile
	}
	hostport, err := c.resolve(ctx)
	if err != nil {
		return "", 0, err
	}
	addr = "tcp://" + hostport
	reg := &proto.Register{
		Peer:     c.d.peer,
		Upload:   uint64(c.d.cfg.UploadRate),
		Download: uint64(c.d.cfg.DownloadRate),
		Addr:     c.d.advertise(hostport),
		Token:    c.d.cfg.Token,
	}
	reply, err := c.send(ctx, addr, reg, 0)
	if err != nil {
		return "", 0, fmt.Errorf("daemon: register with %s: %w", hostport, err)
	}
	r, ok := reply.(*proto.Registered)
	if !ok {
		return "", 0, fmt.Errorf("daemon: register: unexpected %v reply", reply.Type())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastGen++
	c.addr, c.gen = addr, c.lastGen
	c.heartbeat = time.Duration(r.HeartbeatMillis) * time.Millisecond
	c.d.log.Info("daemon: registered with scheduler", "scheduler", hostport, "gen", c.gen)
	return c.addr, c.gen, nil
}

// invalidate forgets registration gen (the scheduler restarted or became
// unreachable); the next call registers again.
func (c *schedClient) invalidate(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && gen != 0 {
		c.gen = 0
	}
}

// heartbeatInterval returns the interval the scheduler asked for, 0 if
// unknown.
func (c *schedClient) heartbeatInterval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heartbeat
}

// call sends m under registration gen (from ensure) and returns the reply.
// A transport failure or an unknown-peer answer invalidates gen.
func (c *schedClient) call(ctx context.Context, addr string, gen uint64, m proto.Message, extra time.Duration) (proto.Message, error) {
	reply, err := c.send(ctx, addr, m, extra)
	if err != nil && (codeOf(err) == 0 || codeOf(err) == proto.CodeUnknownPeer) && ctx.Err() == nil {
		c.invalidate(gen)
	}
	return reply, err
}

// send encodes m, sends it to the scheduler at addr within
// SchedulerTimeout+extra and decodes the reply. An Error reply is returned
// as a schedError.
func (c *schedClient) send(ctx context.Context, addr string, m proto.Message, extra time.Duration) (proto.Message, error) {
	b, err := m.Append(make([]byte, 0, m.Len()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.d.cfg.SchedulerTimeout+extra)
	defer cancel()
	rb, err := c.d.node.Send(ctx, addr, b)
	if err != nil {
		return nil, err
	}
	reply, err := proto.Decode(rb)
	if err != nil {
		return nil, fmt.Errorf("daemon: scheduler reply: %w", err)
	}
	if e, ok := reply.(*proto.Error); ok {
		return nil, schedError{e}
	}
	return reply, nil
}

// unavailable reports whether err means "no usable scheduler now": the
// daemon then fetches from the source and tries again later.
func unavailable(err error) bool {
	switch codeOf(err) {
	case 0:
		return !errors.Is(err, context.Canceled)
	case proto.CodeUnknownPeer, proto.CodeUnknownTask:
		return false // register or join again at once
	}
	return true // unavailable, unauthorized, mismatched: go to the source
}

// leave tells the scheduler the daemon is going away, if registered. It
// waits at most a second.
func (c *schedClient) leave() {
	c.mu.Lock()
	addr, gen := c.addr, c.gen
	c.gen = 0
	c.mu.Unlock()
	if gen == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = c.send(ctx, addr, &proto.Leave{Peer: c.d.peer, All: true}, 0) // best effort
}

// advertise returns the host:port to register: Config.Advertise, or the
// peer listener's address with an unspecified host replaced by the local
// address that routes to the scheduler at schedHostport.
func (d *Daemon) advertise(schedHostport string) string {
	if d.cfg.Advertise != "" {
		return d.cfg.Advertise
	}
	addr := d.PeerAddr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return addr
	}
	// A UDP "connection" sends nothing; it only asks the kernel for a route.
	c, err := net.Dial("udp", schedHostport)
	if err != nil {
		return addr
	}
	defer func() { _ = c.Close() }() // UDP: nothing was sent
	local, _, _ := net.SplitHostPort(c.LocalAddr().String())
	return net.JoinHostPort(local, port)
}

// joinTask joins task id under registration gen and reports the pieces st
// holds, with their digests, so the scheduler can offer them to others and
// hand their digests to fetchers (a Join's have bitmap carries no digests).
func (d *Daemon) joinTask(ctx context.Context, addr string, gen uint64, id core.TaskID, layout core.Layout, url string, st *piece.Task) error {
	join := &proto.Join{Peer: d.peer, Task: id, Layout: layout, URL: url}
	if len(url) > proto.MaxURLLen {
		join.URL = url[:proto.MaxURLLen]
	}
	if _, err := d.sched.call(ctx, addr, gen, join, 0); err != nil {
		return fmt.Errorf("daemon: join task %s: %w", id.Short(), err)
	}
	done := &proto.PieceDone{Peer: d.peer, Task: id}
	flush := func() error {
		if len(done.Pieces) == 0 {
			return nil
		}
		_, err := d.sched.call(ctx, addr, gen, done, 0)
		done.Pieces = done.Pieces[:0]
		return err
	}
	for i := range layout.Pieces() {
		if dg, ok := st.PieceDigest(core.PieceIndex(i)); ok {
			done.Pieces = append(done.Pieces, proto.DonePiece{Index: core.PieceIndex(i), Digest: dg})
			if len(done.Pieces) == proto.MaxBatch {
				if err := flush(); err != nil {
					return fmt.Errorf("daemon: report pieces of %s: %w", id.Short(), err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("daemon: report pieces of %s: %w", id.Short(), err)
	}
	return nil
}
