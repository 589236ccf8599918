#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bootstrap_venv test
# Browser tests drive Debian's Chromium through Playwright (which downloads no browser).
apt_install chromium
bash scripts/compat-envs.sh

if [ -z "${KASSA_TEST_DATABASE_URL:-}" ] && .venv/bin/python - <<'PY' 2>/dev/null
import socket
socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
PY
then
  export KASSA_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/postgres"
  echo "Tests use the PostgreSQL server at 127.0.0.1:5432."
else
  echo "Tests use ${KASSA_TEST_DATABASE_URL:-an embedded PostgreSQL (no server at 127.0.0.1:5432)}."
fi

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
.venv/bin/mypy bench
echo "== pytest"
exec .venv/bin/pytest -n "${KASSA_TEST_WORKERS:-2}" "$@"
