// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package piecetest has file systems for testing package piece: [FaultFS]
// fails chosen operations (create, write, fsync, rename, ENOSPC and short
// writes) and [LogFS] records the order of operations so that a test can
// compare the store's crash-safety protocol with a golden trace. Both wrap
// another piece.FS, usually piece.OS over t.TempDir(). Both are safe for
// concurrent use.
package piecetest
