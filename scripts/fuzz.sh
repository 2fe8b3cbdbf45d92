#!/usr/bin/env bash
# Runs every Fuzz target in the product module for $1 (default 20s) each.
set -euo pipefail
fuzztime=${1:-20s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($fuzztime)"
    for attempt in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$log"; then
        break
      fi
      # Go's fuzzing engine can end a run with a bare "context deadline
      # exceeded" when -fuzztime runs out mid-execution, with no failing
      # input: that is the engine's, run once more. A real finding writes
      # its input to testdata and fails both times.
      if [ "$attempt" = 2 ] || grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
        exit 1
      fi
      echo "fuzz $pkg $target: the engine stopped with a deadline error and no failing input; again"
    done
  done
done
