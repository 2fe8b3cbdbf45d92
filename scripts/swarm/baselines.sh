#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright 2026 The pollen Authors
#
# Measures the swarm baselines recorded in docs/benchmarks.md ("swarm
# baselines"): BitTorrent and nginx+curl for N=8 and N=16 peers with 64 MiB
# and 256 MiB files, then the loopback baselines. Needs root and the Debian
# packages aria2 opentracker mktorrent nginx-light curl iperf3. Until
# `pollen bench swarm` exists this runs the benchmark through its Go test
# runner. Usage: scripts/swarm/baselines.sh [extra -swarm.* flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
bench() {
  echo "=== $*"
  go test ./internal/swarmbench -count=1 -run '^TestSwarmBench$' -v -timeout 40m \
    -args -swarm.run "$@" | grep --line-buffered -v -e '^=== RUN' -e '^PASS$' -e '^ok '
}
for peers in 8 16; do
  for size in 64MiB 256MiB; do
    bench -swarm.peers "$peers" -swarm.size "$size" \
      -swarm.origin-up 100Mbit -swarm.up 100Mbit -swarm.down 200Mbit "$@"
  done
done
bench -swarm.noswarm -swarm.loopback "$@"
