#!/usr/bin/env bash
# Measures the policy evaluator: decisions per second on one core for a typical user's policies
# (three identity policies, fourteen statements, conditions, a permissions boundary).
# Usage: bench/policy.sh [benchtime]   (default 3s)
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime="${1:-3s}"
out="$(GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkEvaluate$' -benchmem -benchtime "$benchtime" -cpu 1 ./internal/policy/)"
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '/^BenchmarkEvaluate/ { for (i = 1; i < NF; i++) if ($(i+1) == "decisions/s") printf "policy evaluation: %.0f decisions/s on one core\n", $i }'
