#!/usr/bin/env bash
# The test command: every package's tests, with the race detector on the
# packages where goroutines meet (group commit, delivery, the nodes).
set -euo pipefail
cd "$(dirname "$0")"
go test -race -count=1 ./...
