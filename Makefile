# The whole set-up on a fresh machine is these targets; scripts/stack.sh does the work.
.PHONY: up restart down ps test test-unit test-integration test-e2e test-fuzz test-browser venv bench

up:
	@scripts/stack.sh up

restart:
	@scripts/stack.sh restart

down:
	@scripts/stack.sh down

ps:
	@scripts/stack.sh ps

venv:
	@scripts/stack.sh venv

# Every test: unit (no servers), integration (real RabbitMQ and document store), end to end
# (the stack that `make up` starts, through HTTP).
test:
	@scripts/test.sh

test-unit:
	@scripts/stack.sh venv && .venv/bin/pytest tests/unit

test-integration:
	@scripts/stack.sh infra && .venv/bin/pytest tests/integration

test-e2e:
	@scripts/stack.sh up && .venv/bin/pytest tests/e2e

# Schemathesis against the stack's OpenAPI document, signed in as each role.
test-fuzz:
	@scripts/stack.sh up && .venv/bin/pytest tests/fuzz

# The web app in Debian's Chromium (scripts/test.sh installs it); on its own, see tests/browser/pytest.ini.
test-browser:
	@scripts/stack.sh up && .venv/bin/pytest tests/browser
