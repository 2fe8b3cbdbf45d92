// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package push is the receiving side's safety and the wire messages of
// `pollen push FILE... --to HOST:PORT,...` and `pollen receive --dir DIR`
// (SPEC S3). docs/design/0004-stream-and-push.md describes how the daemon,
// the scheduler and the command line put them together.
//
// A [Receiver] places pushed files under one directory. Names from the
// pusher are checked by [CheckName] (no absolute paths, no `.`, `..` or
// empty components, no backslashes, control characters, invalid UTF-8 or
// overlong names) and resolved beneath the directory without following
// any symbolic link: on Linux with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) one component at a time, elsewhere (or where
// openat2 is unavailable) with [os.Root] and a check that no component is
// a link. Nested relative names (a/b/c.txt) create their directories
// inside the root.
//
// A file appears only complete and verified: [Receiver.Create] checks the
// announced size against [Config.MaxSize] before any byte is written and
// preallocates it, the [File] hashes the bytes as they are written into a
// hidden temporary file in the destination directory, and [File.Commit]
// checks the length and the SHA-256, fsyncs the file, renames it into
// place (never replacing an existing file unless [Config.Overwrite]) and
// fsyncs the directory. Any failure, a full disk included ([ErrDiskFull]),
// removes the temporary file. A file whose digest the caller already
// checked (a daemon's verified download) goes in by [File.LinkVerified], a
// hard link where the file system allows, or [File.CopyVerified], a copy
// in the kernel, instead of through the hash.
//
// Pushes are accepted only from senders that present [Config.Token]
// (compared in constant time) or, as a hook for mutual TLS, whose
// connection [Config.VerifyPeer] accepts; a Receiver without either
// refuses to start unless [Config.Insecure] says so.
//
// The protocol has three messages, sealed in [Message]: the pusher sends
// each receiver an [Offer] (file name, size, piece size, whole-file and
// optional per-piece digests, the token, the pusher's scheduler address
// and source URL); the receiver answers at once with a [Result] of
// [CodeAccepted] (or with its refusal), then the pusher sends an [Await]
// (task, name, token), which the receiver answers with a [Result]
// (verified digest and byte counts, or an error [Code] and text) when the
// file is placed or has failed. Codecs are append-style with fixed-width big-endian
// fields; [Decode] checks every length against the limits here before it
// allocates. [Report], [WriteSummary] and [ExitCode] make the pusher's
// per-receiver table and exit status.
//
// [Push] and [Server] wire these to the rest of pollen: the pusher runs a
// scheduler and an HTTP [Origin] in process and sends the offers over
// msg; the server fetches each offer with a daemon of its own that joins
// the pusher's swarm, then places the file through the Receiver.
//
// Concurrency: a Receiver is safe for concurrent use; a File is used by
// one goroutine. Message values are plain data. Push waits for every
// goroutine it starts; a Server's goroutines are owned by it and waited
// for by [Server.Close].
package push
