// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build race

package scheduler

// raceEnabled skips the largest simulations, which the race detector slows
// twentyfold; the race test covers concurrency.
const raceEnabled = true
