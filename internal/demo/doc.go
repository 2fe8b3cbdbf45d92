// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package demo runs `pollen demo`: a whole pollen swarm in one process on
// loopback. [Run] generates a file in a temporary directory, serves it from
// an HTTP origin whose upload is rate limited and whose body bytes are
// counted, starts a scheduler (behind a msg node on TCP) and N daemons, each
// with its own upload limit, has every daemon download the file at once,
// verifies every copy and reports, in a [Result], each peer's time, the
// bytes the origin served and the fluid lower bound
//
//	max(F/u_origin, F/d_min, N·F/(u_origin + Σ u_peers))
//
// for the configured rates ([swarmbench.LowerBound]). The rates are set
// low enough that the links, not the machine's CPUs, decide the time, so
// the ratio of the all-done time to the bound shows what the swarm
// achieves.
//
// Everything Run starts it also stops and waits for, and everything it
// writes is removed before it returns, also when its context is cancelled.
package demo
