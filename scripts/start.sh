#!/usr/bin/env bash
# Set up and start the station on its embedded default: SQLite in ./instance, demo data, and two label
# printers: the dock's is a printer emulator on 127.0.0.1:9100 (the network path a real Zebra takes;
# its labels land in instance/emulator/, and `station printer-emulator --set-mode paper_out` plays a
# fault), the line's is simulated in-process (instance/printers/line-zebra/).
set -euo pipefail
cd "$(dirname "$0")/.."
# The emulator is on this machine (127.0.0.1), a loopback address: Station refuses those for network
# printers and scanners unless STATION_DEVICE_NETWORKS names them. The demo names 127.0.0.1/32 (its
# other services on 127.0.0.1 become reachable as devices too: fine for a demo, not for a site); any
# other network stays as you set it (unset: anywhere but loopback and link-local).
export STATION_DEVICE_NETWORKS="${STATION_DEVICE_NETWORKS:-0.0.0.0/0,::/0},127.0.0.1/32"
scripts/setup.sh
.venv/bin/station init
.venv/bin/station demo --if-empty
spool="${STATION_INSTANCE:-instance}/emulator"
mkdir -p "$spool"
.venv/bin/station printer-emulator --port 9100 --control-port 9101 --spool "$spool" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT
.venv/bin/station run "$@"
