// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package metrics exports pollen's counters to Prometheus. The packages that
// do the work (wire, msg, the scheduler, the daemon) keep atomic counters and
// offer Stats() snapshots; this package adapts those snapshots into collectors
// read at scrape time, so the hot paths never touch Prometheus types.
//
// [Serve] runs the HTTP endpoint behind every command's --metrics-addr.
package metrics
