// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package piece is the daemon's piece store. A [Store] keeps tasks under one
// directory; a [Task] is one source object stored as one data file written
// at piece offsets, plus an append-only journal that records which pieces
// are verified, the running whole-file SHA-256 over the contiguous prefix,
// and completion. A process killed at any point reopens the store and
// resumes: only pieces whose bytes were durable before their journal record
// are present (see docs/design/0002-piece-store.md).
//
// Pieces are written through a [PieceWriter], which hashes the bytes as
// they arrive and marks the piece present only if they match the expected
// digest ([*DigestMismatchError] otherwise). Verified pieces are served
// through a [Section], which exposes the *os.File so uploads can use
// sendfile. A task is complete only when all pieces are present and the
// whole-file digest, computed as pieces arrive and never by reading the
// finished file again, matches the expected one; [Task.Export] then places
// the output atomically.
//
// The store enforces a disk quota with LRU garbage collection of finished
// tasks; tasks in use (pinned by [Store.Create], [Store.Acquire], a Section
// or an export) are never deleted. Disk-full errors wrap [ErrDiskFull].
//
// All I/O goes through the small [FS] interface; [OS] is the real one and
// package piecetest has fault-injecting and op-logging ones.
//
// Store and Task are safe for concurrent use. A PieceWriter and a Section
// are each used by one goroutine.
package piece
