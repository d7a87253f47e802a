#!/usr/bin/env bash
# Installs and starts what Timebank needs, idempotently, as root on a fresh Debian machine.
#
#   scripts/stack.sh venv      Python 3.11 virtualenv in .venv with the pinned dependencies
#   scripts/stack.sh infra     RabbitMQ and the document store, unless AMQP_URI / MONGO_URL are set
#   scripts/stack.sh up        infra + the four services under supervisord; waits for /healthz
#   scripts/stack.sh restart   restarts the four services (after a code change)
#   scripts/stack.sh down      stops what up started
#   scripts/stack.sh ps        what is running
#
# Everything it starts lives under var/ (data, logs, the supervisord socket, generated secrets).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VAR="$ROOT/var"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
DOCSTORE_BIN="$ROOT/tools/docstore/bin/docstore"
GATEWAY_URL="http://127.0.0.1:8000"
LOCAL_AMQP="amqp://guest:guest@127.0.0.1:5672/"
LOCAL_MONGO="mongodb://127.0.0.1:27017/"
TEST_AMQP="amqp://guest:guest@127.0.0.1:5672/timebank-test"

# Go and Python may sit outside a non-login shell's PATH (CI runs with a trimmed environment).
export PATH="$PATH:/usr/local/go/bin:$HOME/.pyenv/shims"

log() { printf '[stack] %s\n' "$*" >&2; }

python311() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return
    fi
  done
  log "Python 3.11 is required"; exit 1
}

ensure_venv() {
  local stamp="$VENV/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return
  log "installing Python dependencies into .venv"
  [ -x "$PY" ] || "$(python311)" -m venv "$VENV"
  "$PY" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
  rm -f "$VENV"/.installed-* && touch "$stamp"
}

ensure_rabbitmq() {
  if [ -n "${AMQP_URI:-}" ]; then log "using AMQP_URI; not starting RabbitMQ"; return; fi
  if ! "$PY" scripts/wait_ready.py amqp "$LOCAL_AMQP" --timeout 1 2>/dev/null; then
    start_rabbitmq
  fi
  # Integration tests run their own service containers on a vhost of their own, so they never
  # share queues with the stack that `make up` runs.
  if ! "$PY" scripts/wait_ready.py amqp "$TEST_AMQP" --timeout 1 2>/dev/null; then
    rabbitmqctl add_vhost timebank-test >/dev/null 2>&1 || true
    rabbitmqctl set_permissions -p timebank-test guest '.*' '.*' '.*' >/dev/null
  fi
}

start_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "installing rabbitmq-server (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  log "starting RabbitMQ"
  service rabbitmq-server start >/dev/null 2>&1 || rabbitmq-server -detached
  mkdir -p "$VAR" && touch "$VAR/started-rabbitmq"
  "$PY" scripts/wait_ready.py amqp "$LOCAL_AMQP" --timeout 120
}

# The service certificate is set in a CJK font from Debian; the tests read it back with poppler
# (pdftotext, pdftoppm). Installed once, when missing.
ensure_document_tools() {
  local missing=()
  [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
  command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_docstore() {
  if [ -x "$DOCSTORE_BIN" ] && [ "$DOCSTORE_BIN" -nt tools/docstore/main.go ] &&
     [ "$DOCSTORE_BIN" -nt tools/docstore/go.sum ] && [ "$DOCSTORE_BIN" -nt tools/docstore/go.mod ]; then
    return
  fi
  command -v go >/dev/null 2>&1 || { log "Go is required to build tools/docstore"; exit 1; }
  log "building the document store (FerretDB v1, SQLite backend) through the Go module proxy"
  (cd tools/docstore && go build -trimpath -o bin/docstore .)
}

write_supervisor_config() {
  mkdir -p "$VAR/log" "$VAR/docstore"
  [ -f "$VAR/token-secret" ] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$VAR/token-secret"
  if [ -n "${TIMEBANK_ADMIN_PASSWORD:-}" ]; then
    printf '%s\n' "$TIMEBANK_ADMIN_PASSWORD" > "$VAR/admin-password"
  elif [ ! -f "$VAR/admin-password" ]; then
    "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$VAR/admin-password"
  fi
  chmod 600 "$VAR/token-secret" "$VAR/admin-password"
  local with_docstore=0
  [ -n "${MONGO_URL:-}" ] || with_docstore=1
  # Every test signs in and registers from 127.0.0.1: this stack raises the per-address
  # throttles (production defaults in config/nameko.yml); per-account locks stay as they are.
  TIMEBANK_ADMIN_PASSWORD=$(cat "$VAR/admin-password") \
  TIMEBANK_TOKEN_SECRET=${TIMEBANK_TOKEN_SECRET:-$(cat "$VAR/token-secret")} \
  AMQP_URI=${AMQP_URI:-$LOCAL_AMQP} MONGO_URL=${MONGO_URL:-$LOCAL_MONGO} \
  WITH_DOCSTORE=$with_docstore \
  TIMEBANK_LOGIN_FAILURES_PER_ADDRESS=${TIMEBANK_LOGIN_FAILURES_PER_ADDRESS:-10000} \
  TIMEBANK_SELF_REGISTRATIONS_PER_ADDRESS=${TIMEBANK_SELF_REGISTRATIONS_PER_ADDRESS:-10000} \
    "$PY" scripts/supervisor_config.py > "$VAR/supervisord.conf"
}

supervisorctl() { "$VENV/bin/supervisorctl" -c "$VAR/supervisord.conf" "$@"; }

supervisord_running() { [ -S "$VAR/supervisor.sock" ] && supervisorctl pid >/dev/null 2>&1; }

ensure_supervisord() {
  write_supervisor_config
  if supervisord_running; then
    supervisorctl reread >/dev/null && supervisorctl update >/dev/null
  else
    "$VENV/bin/supervisord" -c "$VAR/supervisord.conf"
  fi
}

infra() {
  ensure_venv
  ensure_document_tools
  ensure_rabbitmq
  if [ -z "${MONGO_URL:-}" ]; then
    build_docstore
    ensure_supervisord
    supervisorctl start docstore >/dev/null 2>&1 || true  # "already started" is fine
    "$PY" scripts/wait_ready.py mongo "$LOCAL_MONGO" --timeout 60
  else
    log "using MONGO_URL; not starting the document store"
  fi
}

up() {
  infra
  ensure_supervisord
  supervisorctl start 'services:*' >/dev/null || true
  if ! "$PY" scripts/wait_ready.py http "$GATEWAY_URL/healthz" --timeout 90; then
    supervisorctl status >&2 || true
    tail -n 30 "$VAR"/log/gateway.log >&2 || true
    exit 1
  fi
  "$PY" scripts/wait_ready.py http "$GATEWAY_URL/readyz" --timeout 60
  cat <<MSG
Timebank is up: $GATEWAY_URL   (API under $GATEWAY_URL/api/v1, OpenAPI at /api/v1/openapi.json)
Admin login:  username admin   password $(cat "$VAR/admin-password")
Logs in var/log/; 'make ps' shows the processes, 'make down' stops them.
MSG
}

down() {
  if supervisord_running; then
    local pid; pid=$(cat "$VAR/supervisord.pid")
    supervisorctl shutdown >/dev/null
    # shutdown returns at once; wait (with a deadline) for the processes to be gone
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  if [ -f "$VAR/started-rabbitmq" ]; then
    service rabbitmq-server stop >/dev/null 2>&1 || rabbitmqctl stop >/dev/null 2>&1 || true
    rm -f "$VAR/started-rabbitmq"
  fi
  log "stopped"
}

ps_() {
  if supervisord_running; then supervisorctl status || true; else echo "supervisord is not running"; fi
  if [ -n "${AMQP_URI:-}" ]; then echo "rabbitmq          external ($AMQP_URI)";
  elif [ -x "$PY" ] && "$PY" scripts/wait_ready.py amqp "$LOCAL_AMQP" --timeout 1 2>/dev/null; then
    echo "rabbitmq          RUNNING   127.0.0.1:5672"
  else echo "rabbitmq          STOPPED"; fi
}

restart() {
  supervisord_running || { up; return; }
  ensure_supervisord  # a changed configuration (ports, budgets) takes effect too
  supervisorctl restart 'services:*' >/dev/null
  "$PY" scripts/wait_ready.py http "$GATEWAY_URL/readyz" --timeout 90
  log "services restarted"
}

case "${1:-}" in
  venv) ensure_venv; ensure_document_tools ;;
  restart) restart ;;
  infra) infra ;;
  up) up ;;
  down) down ;;
  ps) ps_ ;;
  *) echo "usage: $0 venv|infra|up|restart|down|ps" >&2; exit 2 ;;
esac
