// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package swarmbench

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"

	"github.com/pollen-dev/pollen/internal/netlab"
)

// pinNeighbors gives every host of lab a permanent neighbour (ARP) entry
// for every other host.
//
// The kernel's IPv4 neighbour table is one table for all network
// namespaces, and its gc_thresh3 (1024 by default) caps the entries that
// are not permanent across all of them. A lab of 33 hosts in which every
// host talks to every other needs 33 × 32 = 1056: past the cap, a host
// cannot resolve the hosts it had not talked to yet ("neighbor table
// overflow" in the kernel log), and a TCP connect between such a pair
// times out every time it is tried, for the whole run (measured at N=32:
// 16 pairs, 469 piece fetches lost 3 s each to a dial timeout). Hosts on a
// real network each have their own table, so the lab pins the entries,
// which permanent entries do not count against the cap.
func pinNeighbors(ctx context.Context, lab *netlab.Lab) error {
	hosts := lab.Hosts()
	macs := make([]string, len(hosts))
	for i, h := range hosts {
		out, err := exec.CommandContext(ctx, "ip", "-n", h.NS, "-br", "link", "show", "dev", "eth0").Output()
		if err != nil {
			return fmt.Errorf("swarmbench: link of host %d: %w", i, err)
		}
		if macs[i], err = briefLinkAddr(string(out)); err != nil {
			return fmt.Errorf("swarmbench: link of host %d: %w", i, err)
		}
	}
	for i, h := range hosts {
		var b strings.Builder
		for j, o := range hosts {
			if j != i {
				fmt.Fprintf(&b, "neigh replace %s lladdr %s dev eth0 nud permanent\n", o.Addr, macs[j])
			}
		}
		cmd := exec.CommandContext(ctx, "ip", "-n", h.NS, "-batch", "-")
		cmd.Stdin = strings.NewReader(b.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("swarmbench: neighbours of host %d: %w: %s", i, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// briefLinkAddr returns the link-layer address in the output of
// `ip -br link show dev D`: "eth0@if12  UP  aa:bb:cc:dd:ee:ff <...>".
func briefLinkAddr(out string) (string, error) {
	f := strings.Fields(out)
	if len(f) < 3 {
		return "", fmt.Errorf("unexpected ip -br link output %q", out)
	}
	if _, err := net.ParseMAC(f[2]); err != nil {
		return "", fmt.Errorf("unexpected ip -br link output %q: %w", out, err)
	}
	return f[2], nil
}
