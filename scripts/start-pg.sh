#!/usr/bin/env bash
# The multi-station stack on one machine, against PostgreSQL, for trying it: `station run --workers 2`
# (two web processes on one port), two `station worker` print senders, and the printer emulator for the
# dock printer. The database (default: `station` on 127.0.0.1:5432, user postgres) is created if
# missing, migrated and given the demo site once. Ctrl+C stops everything.
#   scripts/start-pg.sh                    # http://127.0.0.1:8000/
#   STATION_DATABASE_URL=postgresql://me@db:5432/station scripts/start-pg.sh --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export STATION_DATABASE_URL="${STATION_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/station}"
export STATION_INSTANCE="${STATION_INSTANCE:-instance-pg}"
# The printer emulator is on 127.0.0.1, a loopback address Station refuses for network devices unless
# STATION_DEVICE_NETWORKS names it (see scripts/start.sh).
export STATION_DEVICE_NETWORKS="${STATION_DEVICE_NETWORKS:-0.0.0.0/0,::/0},127.0.0.1/32"
.venv/bin/python - <<'PY'
import os
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from station.config import normalise_url
url = make_url(normalise_url(os.environ["STATION_DATABASE_URL"]))
admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
with admin.connect() as conn:
    if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}) is None:
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        print(f"created database {url.database}")
admin.dispose()
PY
.venv/bin/station init
.venv/bin/station demo --if-empty
mkdir -p "$STATION_INSTANCE/emulator"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait' EXIT
.venv/bin/station printer-emulator --port 9100 --control-port 9101 --spool "$STATION_INSTANCE/emulator" &
pids+=($!)
for _ in 1 2; do .venv/bin/station worker & pids+=($!); done
.venv/bin/station run --workers 2 --no-print-worker "$@"
