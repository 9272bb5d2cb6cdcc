"""Benchmark of a station's own scanner on the open page: serial scan to answer banner, in Chromium.

Not a test: it prints figures. Issue 14: "A serial scan reaches the open page's workflow with no re-POST
and no second resolve: … measures the serial-to-banner time in Chromium (report it)".

    .venv/bin/python bench/serial_feedback_bench.py              # 100 scans
    .venv/bin/python bench/serial_feedback_bench.py --scans 20

It makes a demo site in a temporary instance (`station init` + `station demo`), gives the demo's "Dock
tablet" station a network serial scanner (`serial+socket://127.0.0.1:PORT`, a TCP listener in this
process that plays the scanner; STATION_DEVICE_NETWORKS=127.0.0.1/32 lets the station open it), starts
`station run --workers 1` (its scanner service reads that scanner), signs headless Chromium in as the
demo admin at that station and opens the put-away page. Each scan is written to the scanner's socket
(code + CR LF) with Date-comparable wall-clock time t0 taken just before; an init script in the page
stamps Date.now() when a node holding a .banner is added. Both clocks are this machine's, so the
difference is what a worker waits: the scanner service reading and logging the scan, the page's poll of
the station feed, fetching (or, before issue 14, re-posting) the answer, and drawing it. The codes
alternate a lot label and a location (both answered with a banner on the put-away page).
"""
from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchkit as kit  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ADMIN_BADGE, ADMIN_PIN = "OP-1006", "1234"  # the demo's admin
STATION_NAME = "Dock tablet"

# Date.now() each time a node holding a banner is added (window.__bench.at).
INIT_SCRIPT = """
window.__bench = {at: []};
new MutationObserver(mutations => {
  for (const m of mutations) for (const n of m.addedNodes) {
    if (n.nodeType === 1 && (n.matches('.banner') || n.querySelector('.banner'))) {
      window.__bench.at.push(Date.now());
      return;
    }
  }
}).observe(document, {childList: true, subtree: true});
"""

def codes_of(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        lots = [r[0] for r in con.execute("SELECT lot_number FROM lots WHERE on_hand > 0 AND status = 'available' "
                                          "ORDER BY id LIMIT 10")]
        locations = [r[0] for r in con.execute("SELECT code FROM locations ORDER BY id LIMIT 10")]
    finally:
        con.close()
    return [f"LOT:{lots[i % len(lots)]}" if i % 2 == 0 else f"LOC:{locations[i % len(locations)]}" for i in range(20)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scans", type=int, default=100)
    ap.add_argument("--pause-ms", type=int, default=700, help="between one answer and the next scan "
                    "(past the trigger-bounce window)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="serial-feedback-bench-") as tmp:
        instance = Path(tmp)
        env = kit.station_env(f"sqlite:///{instance / 'station.db'}", instance)
        env["STATION_DEVICE_NETWORKS"] = "127.0.0.1/32"
        subprocess.run([kit.STATION, "init"], env=env, check=True, capture_output=True)
        subprocess.run([kit.STATION, "demo"], env=env, check=True, capture_output=True)
        codes = codes_of(instance / "station.db")
        scanner = socket.create_server(("127.0.0.1", 0))
        con = sqlite3.connect(instance / "station.db")
        con.execute("UPDATE stations SET scanner_url = ? WHERE name = ?",
                    (f"serial+socket://127.0.0.1:{scanner.getsockname()[1]}", STATION_NAME))
        con.commit()
        con.close()
        cookie = kit.station_cookie(env, STATION_NAME)
        port = kit.free_port()
        base = f"http://127.0.0.1:{port}"
        server = kit.start_station(env, port, "--workers", "1", timeout=30)
        times: list[float] = []
        try:
            scanner.settimeout(30)
            wire, _ = scanner.accept()  # the station's scanner service opened its scanner
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(INIT_SCRIPT)
                context.add_cookies([{"name": "station", "value": cookie, "url": base}])
                page = context.new_page()
                page.goto(f"{base}/signin")
                page.fill("#badge", ADMIN_BADGE)
                page.click("form.signin__form button[type=submit]")
                page.wait_for_url(f"{base}/signin/pin*")
                page.fill("#pin", ADMIN_PIN)
                page.click("#pin-form button[type=submit]")
                page.wait_for_url(f"{base}/")
                page.goto(f"{base}/move")
                page.wait_for_function("() => !!document.body.dataset.stationFeed")
                page.wait_for_timeout(500)
                for n in range(args.scans):
                    seen = page.evaluate("window.__bench.at.length")
                    t0 = time.time() * 1000
                    wire.sendall(codes[n % len(codes)].encode() + b"\r\n")
                    page.wait_for_function("n => window.__bench.at.length > n", arg=seen, timeout=15000)
                    times.append(page.evaluate("n => window.__bench.at[n]", seen) - t0)
                    page.wait_for_timeout(args.pause_ms)
                browser.close()
            wire.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            scanner.close()

    load = os.getloadavg()[0]
    print(f"\nserial feedback: scanner socket write -> answer banner in the page, {len(times)} scans on /move, "
          f"station run --workers 1 on a demo site, headless Chromium; load average {load:.1f}")
    print(f"{'count':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(f"{len(times):5d} {statistics.median(times):8.1f} {percentile(times, 95):8.1f} "
          f"{percentile(times, 99):8.1f} {max(times):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
