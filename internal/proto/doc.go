// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package proto defines the messages daemons exchange with the scheduler and
// with each other, and their binary codecs.
//
// Every message is one [Message]: a sealed sum type whose concrete types are
// pointers to the structs in this package ([*Register], [*Join],
// [*RequestPieces], [*Schedule], [*GetPiece], ...). A message is encoded as a
// two-byte header (protocol [Version], then its [Type]) followed by a body of
// fixed-width big-endian fields; one file per message holds its type, its
// layout and its codec. Encoders append (Append), decoders count the bytes
// they consume (parseX) and [Decode] dispatches on the type byte.
//
// Messages travel as the payload of one msg/wire message each, so the codec
// carries no outer length. The one exception is [*Piece], a header that is
// followed by the piece bytes in the same wire message (sent with sendfile);
// [Parse] reports where the header ends.
//
// Decoders never trust a length they read: every count and length is
// checked against the limits below (MaxParents, MaxBatch, MaxPieces, ...)
// and against the bytes actually present before anything is allocated. A
// truncated encoding always fails with [io.ErrUnexpectedEOF]; any accepted
// input re-encodes to the identical bytes. Types in this package are plain
// values and are not safe for concurrent mutation.
//
// The byte layouts and the protocol flow are written down in
// docs/scheduler-protocol.md.
package proto
