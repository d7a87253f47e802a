#!/usr/bin/env bash
# `make test`: install and start what the tests need, then run all three tiers in one pytest
# run (one summary line, the last line printed), non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/stack.sh up
echo "[test] stack ready after $(( $(date +%s) - start ))s" >&2
if [ -z "${MONGO_URL:-}" ]; then  # our own document store: its Go tests (handles, drops)
  (cd tools/docstore && PATH="$PATH:/usr/local/go/bin" go test ./...)
fi
echo "[test] running unit, integration and e2e tests" >&2
exec .venv/bin/pytest tests/unit tests/integration tests/e2e "$@"
