// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package wirebench holds the workloads behind `pollen bench wire` and the
// comparison module in bench/: request/response with small messages at one
// and many concurrent senders, and streaming of large messages, run over any
// [Transport] and always beside raw Go TCP measured in the same run.
//
// A [Transport] is the smallest thing that can carry the workloads: a server
// that echoes requests and sinks streamed messages, and a client that opens
// one [Conn] per sender. [TCP] opens one TCP connection per sender; [Wire]
// opens one wire.Mux over one or a few connections and one wire.Socket per
// sender; the bench/ module adds yamux and smux (one stream per sender over
// one session). Every message is a pollen frame (8-byte header, then the
// payload), so all transports carry the same bytes and do the same parsing.
//
// [Run] measures a list of [Case]s for a baseline and candidate transports,
// interleaving them run by run (ABAB, rotated) so drift on a shared machine
// cancels, and optionally with both ends pinned to one CPU: on small VMs a
// single request/response connection is bimodal when the two ends may run
// on different CPUs. The server side usually runs in a child process (see
// [StartServer] and [ServeMain]) so the two ends are separate programs, as
// in production.
//
// Functions in this package are safe for concurrent use unless stated
// otherwise; a [Conn] belongs to one sender goroutine at a time.
package wirebench
