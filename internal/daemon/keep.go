// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package daemon

import (
	"time"

	"github.com/pollen-dev/pollen/internal/core"
	"github.com/pollen-dev/pollen/internal/proto"
)

// keep runs until the daemon closes. It keeps the daemon registered
// (reconnecting to a scheduler that went away), sends heartbeats, joins the
// seeded tasks again after a re-registration, and collects garbage.
func (d *Daemon) keep() {
	tick := min(max(d.cfg.ReconnectInterval/2, 50*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastHB time.Time
	var lastUp, lastDown uint64
	nextGC := time.Now().Add(d.cfg.GCInterval)
	var lastErr string // the last registration failure logged
	for {
		now := time.Now()
		if d.sched.configured() {
			addr, gen, err := d.sched.ensure(d.ctx)
			if err != nil && err.Error() != lastErr && d.ctx.Err() == nil {
				lastErr = err.Error()
				d.log.Warn("daemon: cannot register with the scheduler; downloads use the source", "err", err)
			}
			if err == nil {
				lastErr = ""
				if hb := d.sched.heartbeatInterval(); hb > 0 && now.Sub(lastHB) >= hb {
					up, down := d.stats.uploaded.Load(), d.stats.fromPeers.Load()+d.stats.fromSource.Load()
					secs := max(now.Sub(lastHB).Seconds(), 1e-3)
					if lastHB.IsZero() {
						secs = 0
					}
					m := &proto.Heartbeat{
						Peer:      d.peer,
						Uploads:   uint16(min(d.stats.uploads.Load(), 0xffff)),
						Downloads: uint16(min(d.stats.downloads.Load(), 0xffff)),
					}
					if secs > 0 {
						m.UploadRate = uint64(float64(up-lastUp) / secs)
						m.DownloadRate = uint64(float64(down-lastDown) / secs)
					}
					lastUp, lastDown = up, down
					lastHB = now
					if _, err := d.sched.call(d.ctx, addr, gen, m, 0); err != nil {
						d.log.Debug("daemon: heartbeat", "err", err)
					}
				}
				d.joinSeeds(addr, gen)
			}
		}
		if !now.Before(nextGC) {
			d.gc()
			nextGC = now.Add(d.cfg.GCInterval)
		}
		select {
		case <-t.C:
		case <-d.ctx.Done():
			return
		}
	}
}

// joinSeeds joins every seeded task not yet joined under registration gen.
func (d *Daemon) joinSeeds(addr string, gen uint64) {
	type item struct {
		id core.TaskID
		s  seed
	}
	var todo []item
	d.mu.Lock()
	for id, s := range d.seeds {
		if s.gen != gen {
			todo = append(todo, item{id, *s})
		}
	}
	d.mu.Unlock()
	for _, it := range todo {
		st, err := d.store.Acquire(it.id)
		if err != nil {
			continue // collected meanwhile
		}
		err = d.joinTask(d.ctx, addr, gen, it.id, it.s.layout, it.s.url, st)
		st.Release()
		if err != nil {
			d.log.Debug("daemon: join seeded task", "task", it.id.Short(), "err", err)
			return // try again next tick
		}
		d.mu.Lock()
		if s := d.seeds[it.id]; s != nil {
			s.gen = gen
		}
		d.mu.Unlock()
	}
}

// gc brings the store within its quota and tells the scheduler about the
// seeded tasks that were collected (here or by a Create that needed room).
func (d *Daemon) gc() {
	if freed := d.store.GC(); freed > 0 {
		d.log.Info("daemon: garbage collected", "bytes", freed)
	}
	held := map[core.TaskID]bool{}
	for _, info := range d.store.Tasks() {
		held[info.ID] = true
	}
	var gone []core.TaskID
	d.mu.Lock()
	for id := range d.seeds {
		if !held[id] {
			gone = append(gone, id)
			delete(d.seeds, id)
		}
	}
	d.mu.Unlock()
	c := d.sched
	c.mu.Lock()
	addr, gen := c.addr, c.gen
	c.mu.Unlock()
	if gen == 0 {
		return
	}
	for _, id := range gone {
		_, _ = c.call(d.ctx, addr, gen, &proto.Leave{Peer: d.peer, Task: id}, 0) // best effort
	}
}
