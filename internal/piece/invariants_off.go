// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build !invariants && !race

package piece

// invariants enables expensive self-checks; see invariants_on.go.
const invariants = false
