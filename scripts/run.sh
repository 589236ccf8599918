#!/usr/bin/env bash
# Install Kassa into .venv and start it on its embedded PostgreSQL (set DATABASE_URL to use
# your own server). Prints the API URL and a demo organization's access token.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
bootstrap_venv
exec .venv/bin/kassa serve "$@"
