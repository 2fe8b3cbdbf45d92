#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright 2026 The pollen Authors
#
# Measures issue 4's swarm targets as recorded in docs/benchmarks.md
# ("swarm targets"): pollen against BitTorrent in the same lab, RUNS times
# each, at N=16 and N=32 peers. Needs root and the Debian packages aria2
# opentracker mktorrent nginx-light curl. Usage:
#   scripts/swarm/targets.sh [POLLEN_BINARY]    (RUNS=3 by default)
# Every run prints the machine's load before and after: the benchmark
# shares two CPUs with whatever else runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-}
if [[ -z $bin ]]; then
  bin=$(mktemp -d)/pollen
  go build -o "$bin" ./cmd/pollen
fi
runs=${RUNS:-3}
bench() {
  for i in $(seq "$runs"); do
    echo "=== run $i: pollen bench swarm $*"
    echo "load before: $(uptime)"
    "$bin" bench swarm "$@"
    echo "load after: $(uptime)"
  done
}
# 64 MiB at 25 Mbit/s (bound 21.47 s) and 12 Mbit/s (44.74 s): rates low
# enough that 17 or 33 hosts' processes fit on two shared CPUs.
bench --peers 16 --size 64MiB --origin-rate 25Mbit --peer-rate 25Mbit \
  --peer-download-rate 50Mbit --systems pollen,bittorrent --dir /dev/shm
bench --peers 32 --size 64MiB --origin-rate 12Mbit --peer-rate 12Mbit \
  --peer-download-rate 24Mbit --systems pollen,bittorrent --dir /dev/shm
