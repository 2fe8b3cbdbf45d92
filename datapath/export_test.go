// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package datapath

// DisableGSOForTest makes the kernel look as if it refused UDP_SEGMENT
// until the returned function is called.
func DisableGSOForTest() (restore func()) {
	old := gsoBroken.Swap(true)
	return func() { gsoBroken.Store(old) }
}
