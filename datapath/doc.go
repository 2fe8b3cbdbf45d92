// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

// Package datapath holds the ways pollen moves bytes between files, memory
// and sockets, each as reusable code that counts its own system calls, and
// the harness behind `pollen bench datapath` that measures what each costs.
//
// It re-measures Halvorsen, Dalseng and Griwodz, "Assessment of Data Path
// Implementations for Download and Streaming" (SPEC S6) on a current kernel.
//
// # Download: a file range to a stream socket and back
//
// Server side (file → TCP), see [Uploads]:
//
//	path           copies/byte  data-path system calls for n bytes
//	readwrite-32k  2            2·n/32KiB (pread + write)
//	readwrite-1m   2            2·n/1MiB
//	mmap           1            1 mmap + n/1MiB writes + 1 munmap
//	sendfile       0            n/(socket buffer) sendfile
//	splice         0            2·n/(pipe size) splice (file→pipe, pipe→socket)
//
// Client side (TCP → sink), see [Downloads]:
//
//	discard        1            n/buffer reads
//	readwrite-file 2            2·n/buffer (read + pwrite)
//	splice-file    1            2·n/(pipe size) splice; the kernel copies into the page cache
//
// Copies are the times the CPU copies each payload byte on that side
// (a DMA-capable NIC would do the rest); on loopback the receiving side's
// copy is charged to whoever reads. Calls that return EAGAIN are counted too:
// they are what a non-blocking Go socket really costs.
//
// # Streaming: one 12-byte [Header] per datagram
//
// Each datagram is a [Header] and up to [PayloadSize] bytes of the file,
// see [Streams]:
//
//	path             copies/byte     system calls per packet
//	sendfile         0               1 (no header: the baseline of the header tax)
//	sendfile-header  header only     2 (send header with MSG_MORE, sendfile payload)
//	copy             2               1 (header and payload copied into one buffer, write)
//	writev           1               1 (sendmsg of header and payload iovecs)
//	sendmmsg         1               1/64 (64 datagrams per call)
//	gso              1               1/46 (UDP_SEGMENT: one call per 64 KiB super-datagram)
//
// The memory-based paths read the file through one mmap, the way pollen's
// stream mode holds pieces in memory. MSG_ZEROCOPY is left out on purpose:
// to a loopback receiver the kernel copies anyway (msg_zerocopy.rst).
//
// # Costs
//
// Every path adds what it did to a [Counts]. A Counts belongs to one
// transfer and is not safe for concurrent use; the paths themselves keep no
// state and may run concurrently on different sockets. Functions that use a
// system call that may be missing return (n, handled, err) and leave the
// buffered fallback to the caller, or (the Send/Receive helpers pollen uses)
// fall back themselves.
//
// [Bench] runs every path over loopback and reports throughput, CPU seconds
// per GiB of the side under test (per-thread getrusage), system calls per
// GiB and copies per byte.
package datapath
