// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package progress

// isTerminal reports false: pollen draws bars on Linux terminals only.
func isTerminal(uintptr) bool { return false }
