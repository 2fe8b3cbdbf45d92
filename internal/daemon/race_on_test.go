// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build race

package daemon_test

// raceEnabled: the race detector's shadow memory inflates RSS, so memory
// bounds are checked on the Go heap only.
const raceEnabled = true
