// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package progress draws progress bars for pollen's long-running commands
// (`pollen get`, `pollen demo`) with github.com/vbauerster/mpb/v8: bytes
// done of the total, the rate and the time left. Bars are drawn only when
// the output is a terminal; otherwise every call is a cheap no-op, so
// scripts and logs stay clean.
//
// A [Bars] owns mpb's rendering goroutines: [Bars.Wait] (which every user
// must call) ends the unfinished bars and returns once they are gone. Bars
// and Bar are safe for concurrent use.
package progress
