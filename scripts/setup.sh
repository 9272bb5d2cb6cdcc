#!/usr/bin/env bash
# Set up a development/run environment from the project's own files: .venv, Python packages, htmx.
# Usage: scripts/setup.sh [--test]   (--test also installs test tools and Debian's Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
[ "${1:-}" = "--test" ] && with_test=1

need_apt=()
command -v npm >/dev/null || need_apt+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$with_test" = 1 ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
# Label previews (labels/png.py) draw text with DejaVu Sans (Latin, Greek, Cyrillic) and Droid Sans Fallback (CJK).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need_apt+=(fonts-droid-fallback)
# The CUPS test runs a private cupsd with a raw queue; the `zebra` package prints through lpr (cups-bsd).
if [ "$with_test" = 1 ]; then
    [ -x /usr/sbin/cupsd ] || need_apt+=(cups)
    [ -x /usr/bin/lpstat ] || need_apt+=(cups-client)
    [ -x /usr/bin/lpr ] || need_apt+=(cups-bsd)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "$with_test" = 1 ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
else
    .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi

# htmx comes from its npm package, served from node_modules (never a CDN, never a copy in git).
npm install --no-audit --no-fund --silent
