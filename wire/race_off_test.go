// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !race

package wire

const raceEnabled = false
