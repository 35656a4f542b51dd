#!/usr/bin/env bash
# Every benchmark with a target, printing its figures:
# - full live scans of 1,000 and 10,000 users in moto: API calls per operation, wall time and
#   peak RSS of the iamwarden process (targets: 40 account-wide calls, 100 MiB at 10,000 users);
# - mfa-not-enforced over 10,000 users (target: under 2 s);
# - the policy evaluator on one core (target: 1,000,000 decisions/s).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkLiveScan' -benchtime 1x -timeout 30m ./bench/
go test -run '^$' -bench 'BenchmarkMFANotEnforced10k' -benchtime 3x ./internal/access/
bash bench/policy.sh 2s
