// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !race

package daemon_test

const raceEnabled = false
