// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package cli builds pollen's cobra command tree. Commands turn flags into
// the Config structs of the packages that do the work and call them; they hold
// no logic of their own. The tree is built by constructors (no init-time
// registration) so tests can run any command in-process with [Run].
package cli
