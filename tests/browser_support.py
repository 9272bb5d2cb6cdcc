"""A real server and a real browser for page tests: waitress on loopback, Debian's Chromium.

Chromium comes from the system (`/usr/bin/chromium`, or STATION_CHROMIUM); Playwright only
drives it (never `playwright install`). Without it the browser tests skip, except under
CI=true, where a missing browser is a broken run and the tests fail.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
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


# What a gloved finger must hit: every visible link, button, field, list and fold in the page's main part.
TARGETS = "main a, main button, main input:not([type=hidden]), main select, main summary"


def check_layout(page, where: str = "", *, targets: str = TARGETS) -> None:
    """No sideways scrolling, and every visible element matching `targets` at least 48 x 48 px and inside
    the screen (a tick box's target is its label). Waits for the page's load first: laid out before its
    stylesheet arrived (a busy machine), a page is all small unstyled boxes."""
    page.wait_for_load_state("load")
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, where
    boxes = page.evaluate("""(targets) => Array.from(document.querySelectorAll(targets))
        .filter(el => el.getClientRects().length)
        .map(el => { const target = el.type === 'checkbox' ? (el.closest('label') || el) : el;
                     const r = target.getBoundingClientRect();
                     return {what: el.outerHTML.slice(0, 90), w: r.width, h: r.height, right: r.right}; })""",
                          targets)
    assert boxes, (where, f"nothing matches {targets!r}")
    small = [b for b in boxes if b["w"] < 48 or b["h"] < 48 or b["right"] > width + 1]
    assert not small, (where, small)


def station_cookie(app, name: str) -> str:
    """The station cookie's value for station `name`, as set-up writes it: signed with the app's key
    (an unsigned name is ignored by the server). For context.add_cookies."""
    from station.auth import station_cookie_value

    with app.test_request_context():
        return station_cookie_value(name)


# --- a keyboard-wedge scanner -------------------------------------------------------------------------
#
# station.js tells a scanner from a person by the time between keys (event.timeStamp; data-scan-gap-ms,
# 35 ms). Playwright's keyboard.type() stamps each key when Chromium gets it, one round trip after the
# last: on a loaded machine those gaps grow past 35 ms and a scan splits (`LOT:…` arrived as `:…`).
# A real scanner's keys carry the time they were typed, however late the page handles them; so do
# these: each key is sent through the DevTools protocol (Input.dispatchKeyEvent, what Playwright itself
# uses: trusted events, text typed into a focused field) with an explicit `timestamp`, which Chromium
# gives the page as event.timeStamp. The page sees keys gap_ms apart whatever the machine's load, and
# station.js's own capture (burst, stall, Enter, GS, keys taken back out of a field) does the rest.

# US layout: character -> (code, Windows key code). Typed as Playwright types it: no Shift pressed.
_KEYS = {
    " ": ("Space", 32), "-": ("Minus", 189), "_": ("Minus", 189), "=": ("Equal", 187), "+": ("Equal", 187),
    "[": ("BracketLeft", 219), "{": ("BracketLeft", 219), "]": ("BracketRight", 221), "}": ("BracketRight", 221),
    "\\": ("Backslash", 220), "|": ("Backslash", 220), ";": ("Semicolon", 186), ":": ("Semicolon", 186),
    "'": ("Quote", 222), '"': ("Quote", 222), ",": ("Comma", 188), "<": ("Comma", 188), ".": ("Period", 190),
    ">": ("Period", 190), "/": ("Slash", 191), "?": ("Slash", 191), "`": ("Backquote", 192),
    "~": ("Backquote", 192), "!": ("Digit1", 49), "@": ("Digit2", 50), "#": ("Digit3", 51), "$": ("Digit4", 52),
    "%": ("Digit5", 53), "^": ("Digit6", 54), "&": ("Digit7", 55), "*": ("Digit8", 56), "(": ("Digit9", 57),
    ")": ("Digit0", 48),
}
_KEYS.update({c: (f"Key{c.upper()}", ord(c.upper())) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"})
_KEYS.update({c: (f"Digit{c}", ord(c)) for c in "0123456789"})
_CONTROL = 2  # Input.dispatchKeyEvent's modifier bit for Ctrl

_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # page -> its DevTools session
_stamped: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # page -> the stamp of its last key


def _send(page, kind: str, at: float, key: str, code: str, key_code: int, text: str = "",
          modifiers: int = 0) -> None:
    """One key event, stamped `at` (seconds since the epoch)."""
    cdp = _sessions.get(page)
    if cdp is None:
        cdp = _sessions[page] = page.context.new_cdp_session(page)
    event = {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": key_code,
             "modifiers": modifiers, "timestamp": at}
    if text:
        event.update(text=text, unmodifiedText=text)
    cdp.send("Input.dispatchKeyEvent", event)


def wedge(page, code: str, *, enter: bool = True, at: float | None = None, gap_ms: float = 5) -> float:
    """What a keyboard-wedge scanner does: `code`'s keys gap_ms apart, then Enter (unless enter=False),
    as trusted key events stamped with the time they stand for, so the page sees one burst whatever the
    load. A GS (0x1d) in `code` is typed as Ctrl+], as a wedge set up for GS does.

    The first key is stamped `at` (seconds since the epoch; default now, or just after the page's last
    key if that was stamped later: keys sent faster than gap_ms are stamped ahead). Returns the stamp of
    the last key, so a test can go on from there: `t = wedge(page, "LOC:DO", enter=False)` and then
    `wedge(page, "CK-1", at=t + 0.6)` is a scanner that stalled 600 ms in the middle of a scan."""
    page.wait_for_load_state("load")  # keys typed into a page still loading would go to the one before
    gap = gap_ms / 1000
    start = max(time.time(), _stamped.get(page, 0) + gap) if at is None else at
    keys = [("Enter", "\r")] if enter else []
    t = start - gap
    for i, (ch, text) in enumerate([(ch, ch) for ch in code] + keys):
        t = start + i * gap
        up = t + gap / 2
        if ch == "\x1d":
            _send(page, "rawKeyDown", t, "Control", "ControlLeft", 17, modifiers=_CONTROL)
            _send(page, "rawKeyDown", t + gap / 8, "]", "BracketRight", 221, modifiers=_CONTROL)
            _send(page, "keyUp", up - gap / 8, "]", "BracketRight", 221, modifiers=_CONTROL)
            _send(page, "keyUp", up, "Control", "ControlLeft", 17)
            continue
        key_name, key_code = ("Enter", 13) if ch == "Enter" else _KEYS[ch]
        _send(page, "keyDown", t, ch, key_name, key_code, text=text)
        _send(page, "keyUp", up, ch, key_name, key_code)
    _stamped[page] = max(t + gap / 2, _stamped.get(page, 0))
    return t
