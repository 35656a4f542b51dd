#!/usr/bin/env bash
# Measures the policy package on one core: decisions per second for a typical user's policies
# (three identity policies, fourteen statements, conditions, a permissions boundary), and the
# parsing time per statement of documents of 5,000 and 50,000 statements (equal figures mean
# parsing is linear in the size of the document).
# Usage: bench/policy.sh [benchtime]   (default 3s)
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime="${1:-3s}"
out="$(GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkEvaluate$' -benchmem -benchtime "$benchtime" -cpu 1 ./internal/policy/)"
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '/^BenchmarkEvaluate/ { for (i = 1; i < NF; i++) if ($(i+1) == "decisions/s") printf "policy evaluation: %.0f decisions/s on one core\n", $i }'
out="$(GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkParse$' -benchtime 3x -cpu 1 ./internal/policy/)"
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '/^BenchmarkParse/ { split($1, a, "="); for (i = 1; i < NF; i++) if ($(i+1) == "ns/statement") printf "policy parsing: %d statements: %.0f ns per statement\n", a[2], $i }'
