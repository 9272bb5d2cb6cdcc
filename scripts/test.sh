#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite, PostgreSQL on 127.0.0.1:5432, headless Chromium).
# With CI=true, PostgreSQL tests fail instead of skipping when the server is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
