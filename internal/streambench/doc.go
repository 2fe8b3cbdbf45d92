// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package streambench is the workload of `pollen bench stream`: stream-mode
// downloads (SPEC S2) against plain file-mode downloads of the same object
// by the same swarm in the same run. It starts an HTTP origin (optionally
// rate-limited), a scheduler and N daemons on loopback in this process,
// then, for each run, has every daemon fetch a fresh task (a new URL) in
// stream mode and in file mode, in alternating order. It measures the
// consumer's time to first byte, the time until every peer has the whole
// object and the throughput it implies, the process's peak RSS (VmHWM,
// reset before each phase) and Go heap, the bytes the process caused to be
// written to disk (/proc/self/io write_bytes), and the copies the origin
// served. Medians over the runs are reported with the file-mode figure of
// the same run as the baseline.
//
// [Run] starts and stops everything it uses; it is not safe to run two at
// once in one process (the RSS and disk figures are the process's).
package streambench
