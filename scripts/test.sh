#!/usr/bin/env bash
# `make test`: install and start what the tests need, run all three tiers in one pytest run,
# then audit the points ledger of the stack the end-to-end tier drove (`timebank verify-ledger`,
# its verdict the last line printed). Non-zero when any test fails or the ledger disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/stack.sh up
echo "[test] stack ready after $(( $(date +%s) - start ))s" >&2
if [ -z "${MONGO_URL:-}" ]; then  # our own document store: its Go tests (handles, drops)
  (cd tools/docstore && PATH="$PATH:/usr/local/go/bin" go test ./...)
fi
echo "[test] running unit, integration and e2e tests" >&2
tests=0
.venv/bin/pytest tests/unit tests/integration tests/e2e "$@" || tests=$?
# The stack's own databases (MONGO_URL and TIMEBANK_DB_PREFIX as the services read them), after
# everything the tests did to them: run even when a test failed, it may say why.
echo "[test] verifying the stack's points ledger" >&2
ledger=0
.venv/bin/timebank verify-ledger || ledger=$?
exit $(( tests != 0 ? tests : ledger ))
