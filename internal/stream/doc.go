// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package stream is the daemon's receive side of stream mode (SPEC S2,
// `pollen get --stream URL -o -`): a memory-only window of pieces that
// fetchers fill out of order and a consumer drains in order, with nothing
// ever written to disk.
//
// A [Cache] holds at most [Config.Window] pieces of one task, each in the
// slot index mod Window, so a piece is always filed under its own index,
// never under its arrival order. The window is [read, read+Window), where
// read is the first piece the consumer has not fully read: a fetcher may
// only add pieces in it ([Cache.Put], or [Cache.Reserve] then
// [Cache.Commit] to fetch straight into the cache's buffer), so the piece
// the consumer waits for always has a free slot (the window can never
// stall with every slot taken by later pieces) and memory stays bounded
// by Window × piece size however slowly the consumer reads. A full window
// refuses pieces ([ErrOutsideWindow]) rather than blocking the fetcher:
// the fetcher asks only for [Cache.Wanted] pieces, at most [Cache.Free] of
// them, and waits on [Cache.Changed] for the window to move. The window
// moves as the consumer reads, not when pieces are evicted.
//
// The consumer reads with [Cache.Read] or [Cache.WriteTo]; bytes come in
// order as soon as the prefix is present. The SHA-256 of the delivered
// bytes is computed as they go out and compared at the end with
// [Config.Digest]: a mismatch ends the stream with a [*DigestError]
// instead of io.EOF.
//
// Delivered pieces stay in their slots and keep being served to other
// peers ([Cache.Get]) until the slot is needed for a new piece; only then
// is the piece evicted, and [Config.OnEvict] reports it exactly once so
// the daemon can send proto.Evicted to the scheduler. A piece is never
// evicted before the consumer has read it. Get answers at once: the bytes
// (pinned by a [*Ref] until released, so a slot reused meanwhile never
// changes bytes a peer is being sent), or [ErrEvicted] / [ErrNotHeld],
// which the daemon answers with proto.Miss.
//
// Buffers are pooled per Cache and reused: a stream of any length
// allocates at most Window buffers of the piece size, plus one per [*Ref]
// still held on an evicted piece ([Stats] counts them).
//
// Concurrency: a Cache is safe for concurrent use by any number of
// fetchers and peer servers. Read and WriteTo are meant for one consumer;
// concurrent calls are serialised. OnEvict is called without the Cache's
// lock held, possibly from several goroutines at once. A Cache starts no
// goroutines.
package stream
