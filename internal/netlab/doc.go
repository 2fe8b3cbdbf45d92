// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package netlab builds a small network of hosts inside one Linux machine for
// pollen's swarm benchmarks. A [Lab] is N hosts, each a network namespace
// named <prefix>h<i> with one interface eth0 addressed from the benchmarking
// range 198.18.0.0/15 (host 0 is 198.18.0.1, host i≥1 is 198.18.0.9+i), and
// one bridge that lives in its own namespace <prefix>br. Each host's upload
// is shaped by a tbf qdisc on its eth0 and its download by a tbf qdisc on the
// bridge side of its veth pair (this kernel has no sch_netem, so links have
// rate but no added delay).
//
// Programs run inside a host with [Host.Command] or [Host.Start] (through
// `ip netns exec`); Go code runs inside a host with [Host.Do], [Host.Listen]
// and [Host.DialContext]. A started [Proc] is in its own process group, so
// stopping it stops its children, and its CPU time (user+system) can be read
// while it runs and after it exits. [Host.Counters] reads the byte counters
// of a host's link.
//
// Building a lab needs root. [Lab.Close] stops every process the lab started,
// kills what is left in its namespaces and deletes them; the namespace prefix
// (pl<pid>-<seq>-) is unique per lab, and [New] first deletes the namespaces
// of labs whose process has died ([CleanupStale]), so an interrupted run
// leaves nothing behind for long and concurrent runs never collide.
//
// A Lab is safe for concurrent use; a [Proc] too.
package netlab
