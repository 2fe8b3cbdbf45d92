// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package wire is a message multiplexor over TCP, after Linux's Kernel
// Connection Multiplexor (KCM), in user space.
//
// A [Mux] is one logical destination. Stream connections to that
// destination are attached to it and detached from it at run time
// ([Mux.Attach], [Mux.Detach]); each attached connection is read by a reader
// goroutine that cuts its byte stream into messages with a [Parser]. Many
// [Socket]s are made from one mux ([Mux.NewSocket]); they are equivalent
// and used concurrently.
//
// Framing. The parser sees the head of the stream and answers "need more
// bytes", "the message is N bytes long" or an error. [LengthPrefix] covers
// protocols whose messages carry their length at a fixed offset: pollen's own
// frames ([Frames], [FrameHeader]), HTTP/2 frames, gRPC messages, RDS. No
// change on the wire is needed to speak an existing protocol.
//
// Sending. [Socket.Send] writes a message whole, on one connection, never
// interleaved with another; the least-loaded connection is chosen, and a
// message whose connection fails mid-write is sent again whole on another.
// Concurrent senders on one connection are combined: whoever holds the
// connection writes every queued message with one vectored write.
// [Socket.SendBatch] sends several messages with one writev,
// [Socket.SendVec] one message from several buffers (a header and a
// payload in place) with one writev and no copy, and [Socket.SendFile] a
// header and a file range with sendfile(2) (on Linux the header is sent
// with MSG_MORE in the same write, so both leave in one TCP segment).
//
// Receiving. Complete messages go to a mux-wide bounded queue, and any
// socket calling [Socket.Receive] (or [Socket.Recv]) takes the next one, in
// arrival order among waiting receivers; a socket that stops receiving holds
// no one up. When the queue is full, readers stop reading and TCP flow
// control pushes back on the peer. While exactly one connection is
// attached, a socket that finds the queue empty reads and cuts its message
// from the connection itself, in its own goroutine, as a raw TCP reader
// would (further messages that came with it are queued); the connection's
// reader goroutine then reads only when no socket is receiving, when more
// sockets wait than messages are queued, and for streamed messages nobody
// was reading for. Messages of at least [Config.StreamThreshold] bytes are
// not buffered but streamed from their connection ([Message.Read],
// [Message.WriteToFile] with splice(2)); a socket reading for itself that
// finds one returns it and reads it itself, the connection reading nothing
// else until the message is released. With one connection attached, a Send
// that finds nobody writing writes in its own goroutine, and a Recv cuts a
// message it read itself straight into the caller's buffer.
//
// Bad input (a parser error, a length over [Config.MaxMessageSize], a
// message cut short or too slow to arrive) aborts only its connection: it is
// detached and closed, and [Config.OnAbort] gets an [*AbortError]. Errors
// match the package's sentinels with [errors.Is].
//
// Everything is counted per mux, connection and socket; see [Mux.Stats].
// The package logs nothing.
//
// Concurrency: Mux and Socket are safe for concurrent use; a [Message]
// belongs to the goroutine that received it. Every goroutine the package
// starts is owned by a Mux and has exited when [Mux.Close] returns.
package wire
