// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package msgtest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrHeld is returned by [Cutter.Dial] while dialing is held.
var ErrHeld = errors.New("msgtest: dialing held")

// A Cutter dials real connections and remembers them, so a test can close
// them all at once (as a network failure would) and refuse new ones for a
// while. Use its Dial as msg.Config.Dial. The zero value is ready to use.
type Cutter struct {
	mu    sync.Mutex // guards the following
	conns []net.Conn
	held  bool
	dials int
}

// Dial opens a connection with a net.Dialer unless dialing is held.
func (c *Cutter) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	c.mu.Lock()
	held := c.held
	c.mu.Unlock()
	if held {
		return nil, ErrHeld
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.dials++
	c.mu.Unlock()
	return conn, nil
}

// Cut closes every connection dialed so far and returns how many it closed.
func (c *Cutter) Cut() int {
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for _, conn := range conns {
		_ = conn.Close()
	}
	return len(conns)
}

// Hold makes Dial fail with [ErrHeld] until Release.
func (c *Cutter) Hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// Release lets Dial connect again.
func (c *Cutter) Release() {
	c.mu.Lock()
	c.held = false
	c.mu.Unlock()
}

// Dials returns the number of connections dialed so far.
func (c *Cutter) Dials() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}
