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
tests=0
# The unit tier needs no servers and is CPU-bound, mostly the crash-point explorer: its
# interleavings run in a second process beside the rest, one per core, and go on beside the
# integration and e2e tiers (which mostly wait on the broker and the store). (pytest-xdist 3.8
# was tried: its workers hang at start-up here.) Integration and e2e share the broker and the
# stack (some kill services): one at a time.
echo "[test] running the unit tests (two processes)" >&2
mkdir -p var
.venv/bin/pytest tests/unit/test_crash_points.py -k interleaved "$@" \
  > var/unit-interleavings.log 2>&1 &
interleavings=$!
.venv/bin/pytest tests/unit -k "not (test_crash_points and interleaved)" "$@" || tests=$?
echo "[test] running the integration and e2e tests (the explorer's interleavings go on)" >&2
.venv/bin/pytest tests/integration tests/e2e "$@" || tests=$(( tests != 0 ? tests : $? ))
interleaved=0
wait "$interleavings" || interleaved=$?
echo "[test] the explorer's interleavings (var/unit-interleavings.log):" >&2
if [ "$interleaved" -ne 0 ]; then cat var/unit-interleavings.log; tests=$(( tests != 0 ? tests : interleaved ));
else tail -n 1 var/unit-interleavings.log; fi
# The fuzzer (its own run: the module loads the stack's OpenAPI document when it is collected)
# and the browser tier work in tenants of their own and kill nothing: side by side.
echo "[test] fuzzing the API from its OpenAPI document (schemathesis, each role), beside the browser tests" >&2
.venv/bin/pytest tests/fuzz "$@" > var/fuzz.log 2>&1 &
fuzz=$!
# The browser tier drives Debian's Chromium (Playwright never downloads a browser here), with
# CJK fonts for the pages' Chinese: installed once. It runs on its own: tests/browser/pytest.ini.
if [ ! -x /usr/bin/chromium ] || [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
  echo "[test] installing chromium and fonts-noto-cjk (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
echo "[test] running the browser tests (screenshots in var/screenshots/)" >&2
.venv/bin/pytest tests/browser "$@" || tests=$(( tests != 0 ? tests : $? ))
fuzzed=0
wait "$fuzz" || fuzzed=$?
echo "[test] the fuzzer (var/fuzz.log):" >&2
if [ "$fuzzed" -ne 0 ]; then cat var/fuzz.log; tests=$(( tests != 0 ? tests : fuzzed ));
else tail -n 1 var/fuzz.log; fi
# The stack's own databases (MONGO_URL and TIMEBANK_DB_PREFIX as the services read them), after
# everything the tests did to them: run even when a test failed, it may say why.
echo "[test] verifying the stack's points ledger" >&2
ledger=0
.venv/bin/timebank verify-ledger || ledger=$?
exit $(( tests != 0 ? tests : ledger ))
