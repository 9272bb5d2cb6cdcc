#!/usr/bin/env bash
# Set up and start the station on its embedded default: SQLite in ./instance, demo data, simulated printers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/station init
.venv/bin/station demo --if-empty
exec .venv/bin/station run "$@"
