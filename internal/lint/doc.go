// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package lint holds pollen's house rules that no off-the-shelf linter checks:
// every package has exactly one package comment, the license header never
// becomes a package comment, wire and msg never panic, and only datapath and
// wire's sendfile helper call unix.Sendfile. The rules live in lint_test.go
// and run with the tests.
package lint
