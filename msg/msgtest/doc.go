// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package msgtest holds test helpers for code built on package msg: a
// dialer that records the connections it opens so a test can cut them at a
// chosen moment (the at-most-once tests), and hold back reconnection while
// it examines what happened.
//
// A Cutter is safe for concurrent use.
package msgtest
