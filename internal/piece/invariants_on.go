// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

//go:build invariants || race

package piece

// invariants enables expensive self-checks: every served piece is reread
// and its digest compared with the recorded one.
const invariants = true
