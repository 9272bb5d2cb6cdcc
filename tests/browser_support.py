"""A real server and a real browser for page tests: waitress on loopback, Debian's Chromium.

Chromium comes from the system (`/usr/bin/chromium`, or STATION_CHROMIUM); Playwright only
drives it (never `playwright install`). Without it the browser tests skip, except under
CI=true, where a missing browser is a broken run and the tests fail.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from waitress.server import create_server

CHROMIUM = os.environ.get("STATION_CHROMIUM", "/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest stop it from calling hosts outside this machine.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Screen sizes the station runs on.
TABLET = {"width": 1280, "height": 800}
HANDHELD = {"width": 360, "height": 740}


class LiveServer:
    """The app served by waitress on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, app, threads: int = 4) -> None:
        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads,
                                    ident="station-test")
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)
        self._stopped = False

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection from inside the server's loop, then wait."""
        if self._stopped:
            return
        self._stopped = True

        def close_all() -> None:
            for channel in list(self.server._map.values()):
                channel.close()

        self.server.trigger.pull_trigger(close_all)
        self._thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()
        assert not self._thread.is_alive(), "waitress did not stop"

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def require_chromium() -> str:
    """The Chromium executable; skip without one (fail under CI=true)."""
    problem = None
    if not os.access(CHROMIUM, os.X_OK):
        problem = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e '.[test]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests to run: {problem}", pytrace=False)
        pytest.skip(problem)
    return CHROMIUM


@contextmanager
def chromium(executable: str) -> Iterator:
    """A headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (gitignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def station_cookie(app, name: str) -> str:
    """The station cookie's value for station `name`, as set-up writes it: signed with the app's key
    (an unsigned name is ignored by the server). For context.add_cookies."""
    from station.views.floor import station_cookie_value

    with app.test_request_context():
        return station_cookie_value(name)
