// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package msgbench is the workload of `pollen bench msg`: the network
// penalty of the V kernel paper (the time to move n bytes from one
// process's memory to another's, measured here as half the round trip of a
// raw TCP or Unix-socket echo of n bytes), fitted to a line (fixed cost +
// cost per byte, least squares), beside package msg's Send/Receive/Reply
// and MoveFrom at the same sizes, in one process, over a Unix socket and
// over TCP loopback, and the V paper's questions M1–M3 re-measured.
//
// The raw echo reads and writes with raw system calls on both ends
// (rawio_unix.go), as pollen's wire does, so that the baseline is the
// cheapest a Go program gets from the socket, not net.Conn's path, which
// wakes the runtime's sysmon thread on a system call after idling.
//
// The serving side runs in a child process (a re-execution of the program
// that calls [ServeMain] when [IsChild]), or in this process on request.
// Baseline and candidate are measured one after the other for every size
// in every run; values are medians over the runs.
package msgbench
