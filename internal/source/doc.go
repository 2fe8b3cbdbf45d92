// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package source reads objects from their origin: http(s) servers, with
// Range requests, and local files (file:// URLs). [Open] returns a
// [Source] that knows the object's size and copies any byte range of it to
// an io.Writer, such as a piece.PieceWriter.
//
// HTTP requests that fail with a 5xx or 429 status, a connection error, a
// body cut short or a stall (no progress for [Config.Timeout]) are retried
// with exponential backoff and jitter; a retry resumes after the bytes
// already delivered, so the writer sees every byte once, in order. When the
// budget is spent the error wraps [ErrGaveUp] and the last cause. A 4xx
// status ([*StatusError]) and an origin that contradicts itself about the
// object's size or range ([ErrChanged]) are not retried. Servers that answer
// a Range request with the whole object (200) are handled by skipping to
// the range.
//
// A Source is safe for concurrent use: several ranges may be read at once.
package source
