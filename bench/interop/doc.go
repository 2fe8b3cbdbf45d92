// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package interop checks wire's built-in parsers against real protocols
// that pollen did not write: the HTTP/2 frames of a live h2c connection
// between golang.org/x/net/http2's client and server, and the
// length-prefixed messages of a google.golang.org/grpc streaming RPC. The
// bytes are recorded by a tee proxy on loopback, cut into messages by a
// wire.Mux and compared with what the protocols' own implementations read.
// It has tests only; it lives in the bench/ module so gRPC stays out of
// pollen's go.mod.
package interop
