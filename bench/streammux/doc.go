// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package streammux adapts stream multiplexors written elsewhere, hashicorp
// yamux and xtaci smux, and gRPC unary calls, to the benchmark workloads of
// internal/wirebench, so muxcompare measures them beside wire and raw TCP in
// one run. yamux and smux open one TCP connection and one session per client
// and one stream per sender; the server runs one goroutine per stream. gRPC
// shares one client connection among all senders, one call per transaction.
// All use their libraries' default configurations (logging off), as an
// application would.
//
// The transports are safe for concurrent use.
package streammux
