// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build race

package wire

// raceEnabled skips allocation counts: under the race detector sync.Pool
// drops a share of what it is given.
const raceEnabled = true
