// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package core is pollen's domain vocabulary, shared by the scheduler, the
// daemon and the piece store: [TaskID] names one source object cut into
// pieces, [PieceIndex] and [Layout] say where each piece lies in it, [Digest]
// is a SHA-256 sum written "sha256:HEX", [PeerID] names a daemon and [Range]
// is a byte range.
//
// Everything here is a plain value: immutable, comparable where that makes
// sense, and safe for concurrent use. The package does no I/O.
package core
