// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package hashcmp measures the piece-digest candidates on this machine:
// crypto/sha256, which pollen uses for every piece today, against BLAKE3
// (lukechampine.com/blake3), at pollen's piece sizes. A receiver hashes every
// byte it takes in, so the hash's rate bounds one verified transfer on a
// core; the figures are in docs/benchmarks.md. It is a comparison only: the
// product module does not depend on BLAKE3.
//
//	cd bench && go test -run '^$' -bench . -count 5 ./hashcmp
package hashcmp
