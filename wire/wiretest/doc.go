// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package wiretest provides connections for testing code built on package
// wire: in-memory and loopback TCP connection pairs, and a fault-injecting
// connection that splits writes, writes slowly, stalls, or fails in the
// middle of a message. It is meant for tests only; all its types are safe
// for concurrent use as far as the connections they wrap are.
package wiretest
