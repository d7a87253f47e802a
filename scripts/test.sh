#!/usr/bin/env bash
# `make test`: install and start what the tests need, then run all three tiers in one pytest
# run (one summary line), non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/stack.sh up
.venv/bin/pytest tests/unit tests/integration tests/e2e "$@"
echo "make test: $(( $(date +%s) - start ))s in all" >&2
