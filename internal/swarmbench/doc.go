// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package swarmbench measures the baselines of `pollen bench swarm`: how
// long it takes to copy one file from an origin to N hosts over shaped links,
// how many bytes the origin serves for it and how much CPU it costs, beside
// the fluid lower bound max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_peers))
// ([LowerBound]).
//
// [Run] builds one [netlab.Lab] (host 0 the origin, hosts 1..N the peers),
// generates a random file and runs each [System] in turn in the same lab:
// [BitTorrent] (opentracker, mktorrent and aria2c from Debian) and [HTTP]
// (nginx with sendfile serving N concurrent curl clients). pollen's own
// swarm plugs in as one more System. Every copy is verified by its SHA-256
// before a result counts. With [Config.Loopback] it also measures the
// single-transfer baselines on loopback: one iperf3 TCP stream (plain and
// with sendfile) and the server CPU per GiB of nginx sendfile serving one
// curl. Results go to an [report.Writer] as bench "swarm".
//
// The programs come from Debian packages ([DebianPackages]); a run without
// them fails with an error wrapping [ErrMissingTools], and [InstallPackages]
// installs them with apt-get when asked to. Building a lab needs root.
package swarmbench
