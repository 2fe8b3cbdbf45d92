// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !linux

package push

import "os"

// openRoot opens dir with os.Root (openat2 is Linux only).
func openRoot(dir string) (rootDir, error) { return openOSRoot(dir) }

// preallocate does nothing off Linux.
func preallocate(*os.File, int64) error { return nil }
