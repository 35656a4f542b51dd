#!/usr/bin/env bash
# Full live scans of 1,000 and 10,000 users in moto: API calls per operation, wall time and peak
# RSS of the iamwarden process. Also the policy evaluator's throughput when present.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkLiveScan' -benchtime 1x -timeout 30m ./bench/
