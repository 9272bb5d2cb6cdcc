"""cups:// printers: a CUPS raw queue (or, on Windows, a spooler printer) through the `zebra` package.

    cups://QUEUE                          the local CUPS server (or CUPS_SERVER from the environment)
    cups://QUEUE?server=HOST:631          another CUPS server (or server=/path/to/cups.sock)

The queue must be raw (no PPD: `lpadmin -p QUEUE -E -v socket://PRINTER:9100`), so CUPS passes the ZPL
through untouched. Jobs are handed over as bytes: zebra's default text encoding is cp437, which would
mangle UTF-8 field data (^CI28).

zebra's own Unix path runs `lpr -P QUEUE -oraw` but ignores lpr's exit status and error text, so a job that
CUPS refused (no such queue, queue not accepting jobs, scheduler down) would vanish without a word. _Lpr runs
the same command and turns a failure into a PrinterError; on Windows zebra's win32print path is used as is.

CUPS cannot tell paper or head state, so status() is not known (UNKNOWN) for a working queue; a queue that
does not exist, is disabled or rejects jobs, or a scheduler that does not answer, is OFFLINE with the reason.
Once lpr returns, the job is CUPS's: it is queued there and sent when the printer can take it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import unquote, urlsplit

from zebra import Zebra

from devices.printers.base import (
    Printer,
    PrinterError,
    PrinterState,
    PrinterStatus,
    PrinterURLError,
    Preview,
    SendOutcome,
)
from devices.printers.options import parse_options, seconds

EXAMPLE = "cups://QUEUE or cups://QUEUE?server=HOST:631"
OPTIONS = {
    "server": "CUPS server as HOST[:PORT] or a socket path; default: CUPS_SERVER or the local one",
    "timeout": "seconds lpr and lpstat may take, default 30",
}
# CUPS queue names: printable characters except space, tab, '/', '\\', '#', '?', quotes; at most 127 — and
# never a leading '-', so a name cannot pass for an option of lpr or lpstat (-hHOST:PORT, -U...).
_QUEUE = re.compile(r"[^\x00-\x20\x7f/\\#?'\"-][^\x00-\x20\x7f/\\#?'\"]{0,126}")
# ?server=: HOST[:PORT] (held to the site's network policy by the application) or the path of a CUPS
# scheduler's socket, which is called cups.sock (/run/cups/cups.sock): no other local socket.
_SERVER = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
_SOCKET = re.compile(r"/[A-Za-z0-9_./-]{0,200}/cups\.sock")

if not hasattr(Zebra, "_output_unix"):  # pragma: no cover - guards the pinned version's internals
    raise ImportError("this zebra version has no Zebra._output_unix; pin zebra==0.2.1")


class _Lpr(Zebra):
    """zebra.Zebra whose Unix output checks lpr's exit status (see the module docstring)."""

    def __init__(self, queue: str, env: dict[str, str], timeout: float) -> None:
        super().__init__(queue)
        self.env = env
        self.timeout = timeout

    def _output_unix(self, commands: bytes) -> None:
        try:
            # -PQUEUE attached (CUPS' lpr knows no "--"); the queue name never starts with '-' either.
            done = subprocess.run(["lpr", f"-P{self.queue}", "-oraw"], input=commands, capture_output=True,
                                  env=self.env, timeout=self.timeout)
        except FileNotFoundError as exc:
            raise PrinterError("lpr is not installed (Debian package cups-bsd): cannot print to CUPS",
                               retryable=False) from exc
        except subprocess.TimeoutExpired as exc:
            raise PrinterError(f"CUPS did not take the job within {self.timeout:g} s (scheduler busy or "
                               "unreachable); it may still print — check the queue before reprinting") from exc
        if done.returncode != 0:
            message = _text(done.stderr) or f"lpr exited with status {done.returncode}"
            if _scheduler_running(self.env, self.timeout) is False:
                raise PrinterError(f"the CUPS scheduler is not running ({message})")
            missing = "does not exist" in message or "Unknown destination" in message
            raise PrinterError(f"CUPS refused the job for queue {self.queue!r}: {message}",
                               retryable=not missing)


class CupsPrinter(Printer):
    """A CUPS queue; see the module docstring."""

    def __init__(self, url: str) -> None:
        """Check url; nothing is run until send() or status()."""
        parts = urlsplit(url)
        options = parse_options(url, OPTIONS, EXAMPLE)
        queue = unquote(parts.netloc)
        if not _QUEUE.fullmatch(queue) or parts.path not in ("", "/"):
            raise PrinterURLError(f"bad CUPS printer URL {url!r}: the queue name goes right after cups:// "
                                  f"(no spaces, '/', '#' or quotes, and it does not start with '-'); e.g. {EXAMPLE}")
        server = options.get("server") or None
        if server is not None and not (_SERVER.fullmatch(server) and not server.startswith("-")
                                       or _SOCKET.fullmatch(server) and ".." not in server.split("/")):
            raise PrinterURLError(f"bad CUPS server {server[:80]!r} in {url[:120]!r}: server= is HOST or HOST:PORT "
                                  f"of a CUPS server, or the path of a CUPS socket ending in /cups.sock; "
                                  f"e.g. {EXAMPLE}")
        self.url = url
        self.queue = queue
        self.server = server
        self.timeout = seconds(url, options, "timeout", 30.0, EXAMPLE)

    def _env(self) -> dict[str, str]:
        """The environment for lpr/lpstat: C locale (their messages are parsed), our server if given."""
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self.server:
            env["CUPS_SERVER"] = self.server
        return env

    def send(self, data: bytes, *, preview: Preview | None = None) -> SendOutcome:
        """Hand the job to CUPS as raw bytes; PrinterError when CUPS does not take it."""
        data = bytes(data)
        try:
            _Lpr(self.queue, self._env(), self.timeout).output(data)
        except PrinterError:
            raise
        except Exception as exc:  # the Windows spooler's errors (pywintypes.error) and the like
            raise PrinterError(f"the print spooler refused the job for {self.queue!r}: {exc}") from exc
        return SendOutcome(len(data))   # CUPS has it; it cannot tell Station whether it printed

    def status(self) -> PrinterStatus:
        """The queue's state from lpstat: missing, disabled or rejecting is OFFLINE; else UNKNOWN."""
        if sys.platform.startswith("win"):
            return PrinterStatus(self.url, known=False, detail="the Windows spooler does not report printer state")
        try:
            done = self._lpstat(f"-p{self.queue}", f"-a{self.queue}")
        except FileNotFoundError:
            return PrinterStatus(self.url, known=False,
                                 detail="lpstat is not installed (Debian package cups-client): cannot check the queue")
        except subprocess.TimeoutExpired:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=f"CUPS did not answer within {self.timeout:g} s")
        out = _text(done.stdout)
        if done.returncode != 0 or not out:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,), detail=self._why_missing(done))
        problems: list[str] = []
        state = "idle"
        lines = out.splitlines()
        for i, line in enumerate(lines):
            reason = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1][:1].isspace() else ""
            if line.startswith(f"printer {self.queue} "):
                if " disabled " in line:
                    problems.append("is disabled (stopped)" + (f": {reason}" if reason else ""))
                elif "now printing" in line:
                    state = "printing"
            elif line.startswith(f"{self.queue} not accepting"):
                problems.append("is not accepting jobs" + (f": {reason}" if reason else ""))
        if problems:
            return PrinterStatus(self.url, (PrinterState.OFFLINE,),
                                 detail=f"CUPS queue {self.queue!r} " + "; ".join(problems))
        return PrinterStatus(self.url, known=False,
                             detail=f"CUPS queue {self.queue!r} is {state} and accepting jobs "
                                    "(CUPS cannot tell paper or head state)")

    def _lpstat(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        # A value always rides attached to its option (-pQUEUE): CUPS' lpstat knows no "--", and a value
        # of its own that started with '-' would be read as an option.
        return subprocess.run(["lpstat", *args], capture_output=True, env=self._env(), timeout=self.timeout)

    def _why_missing(self, done: subprocess.CompletedProcess[bytes]) -> str:
        """Tell a missing queue from a scheduler that is not running."""
        if _scheduler_running(self._env(), self.timeout) is False:
            where = f" at {self.server}" if self.server else ""
            return f"the CUPS scheduler{where} is not running"
        error = _text(done.stderr)
        return f"CUPS has no queue named {self.queue!r}" + (f" ({error})" if error else "")


def _scheduler_running(env: dict[str, str], timeout: float) -> bool | None:
    """False when lpstat says the CUPS scheduler is not running (lpr then claims the queue does not exist)."""
    try:
        done = subprocess.run(["lpstat", "-r"], capture_output=True, env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return b"not running" not in done.stdout


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip()
