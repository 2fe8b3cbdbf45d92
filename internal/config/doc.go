// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package config fills a command's flags from the places a user may set them,
// in order of precedence: the flag on the command line, a POLLEN_* environment
// variable, a section of the YAML config file, and the flag's default.
//
// The flags themselves stay the single description of every setting (name,
// type, default, help), so the YAML keys and environment names are derived
// from them: flag --upload-rate of `pollen daemon` is `upload-rate:` under
// `daemon:` in the file and POLLEN_DAEMON_UPLOAD_RATE (or POLLEN_UPLOAD_RATE)
// in the environment. Each value goes through the flag's own parser, so units
// ("50Mbit", "256MiB") mean the same everywhere.
package config
