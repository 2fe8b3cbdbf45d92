// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package wire

// A Parser finds message boundaries at the head of a byte stream. A mux calls
// it from the connection's reader goroutine, one connection at a time, so a
// Parser that keeps no state is safe to share between connections and muxes.
//
// Parse sees the bytes received so far, starting at a message's first byte,
// and possibly more than one message. It returns:
//
//   - the message's total length, header included (> 0);
//   - 0 when it needs more bytes to decide; it is called again, with more
//     bytes, once they arrive;
//   - an error, which aborts the connection with a [*ParserError].
//
// A length that is not larger than the number of bytes the parser had already
// seen when it last asked for more is [ErrBadLength]: the message would have
// been complete already. Messages are never empty.
type Parser interface {
	Parse(head []byte) (int, error)
}

// ParserFunc adapts a function to the [Parser] interface.
type ParserFunc func(head []byte) (int, error)

// Parse calls f(head).
func (f ParserFunc) Parse(head []byte) (int, error) { return f(head) }
