"""What a device URL may name on this computer: the rules every printer and scanner backend applies.

A device URL is typed by an admin, but the print worker and the scanner service act on it with the
server's own rights; so an address may only reach a device, never the server's files or programs:

- file:// printers are printer and terminal device files only (/dev/usb/lp0, /dev/ttyUSB0, /dev/pts/3),
  checked by name when the URL is read and as a character device when it is opened; never created.
- serial:// names a serial device path (/dev/ttyACM0, /dev/serial/by-id/NAME; opened only when it is a
  character device) or COMn on Windows; a pyserial URL handler is one of PYSERIAL_HANDLERS
  (serial+socket://HOST:PORT, serial+rfc2217://HOST:PORT, serial+loop://), and no option is handed to
  pyserial but the serial settings Station reads itself (spy://, hwgrep://, alt://, file=, logging=,
  ... are refused in words).
- sim://NAME: NAME is 1-64 of A-Z a-z 0-9 _ - (no dots, slashes or %-escapes), so the files of a
  simulated printer stay in the folder its owner chose (the instance folder for Station).

Every check raises ValueError in words; each backend turns it into its own URL error.
Network hosts (which ones are allowed) are not decided here: that is the application's policy.
"""
from __future__ import annotations

import os
import re
import stat
from urllib.parse import parse_qsl, unquote, urlsplit

SIM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SIM_NAME_TEXT = "1 to 64 letters, digits, '_' or '-'"

# file:// printers: USB printer class devices, serial and pseudo terminals (a printer on a serial
# adapter, socat/ser2net bridges).
PRINTER_DEVICE_PATHS = (
    re.compile(r"/dev/usb/lp[0-9]{1,3}"),
    re.compile(r"/dev/tty[A-Za-z0-9_.-]{0,40}"),
    re.compile(r"/dev/pts/[0-9]{1,6}"),
)
PRINTER_DEVICE_TEXT = "/dev/usb/lpN, /dev/ttyNAME or /dev/pts/N"

# pyserial URL handlers Station opens, with the form each takes. Any other (spy://, hwgrep://, alt://,
# cp2110://...) is refused: some write to files (spy's file=) or open ports chosen by a pattern.
PYSERIAL_HANDLERS = {
    "socket": "serial+socket://HOST:PORT",
    "rfc2217": "serial+rfc2217://HOST:PORT",
    "loop": "serial+loop:// (a loop-back port, for tests)",
}
_COM = re.compile(r"COM[0-9]{1,3}", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sim_name(url: str, example: str) -> str:
    """The NAME of sim://NAME, checked; ValueError in words for anything else."""
    parts = urlsplit(url)
    name = parts.netloc
    if not SIM_NAME.fullmatch(name or "") or parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"bad simulated device address {url[:120]!r}: the name after sim:// is {SIM_NAME_TEXT} "
                         f"(no dots, slashes or %-escapes); e.g. {example}")
    return name


def printer_device_path(path: str) -> str:
    """`path` when it names a printer device file by its form; ValueError in words otherwise."""
    if not any(p.fullmatch(path) for p in PRINTER_DEVICE_PATHS):
        raise ValueError(f"{path[:120]!r} is not a printer device: file:// is for printer device files only "
                         f"({PRINTER_DEVICE_TEXT}); a network printer is tcp://HOST:9100")
    return path


def character_device_problem(path: str, fd: int | None = None) -> str | None:
    """Why `path` (or the open `fd`) is not a character device, in words; None when it is one."""
    try:
        mode = os.fstat(fd).st_mode if fd is not None else os.stat(path).st_mode
    except OSError:
        return None  # missing: the caller's own open error says so
    if stat.S_ISCHR(mode):
        return None
    what = "a plain file" if stat.S_ISREG(mode) else "a folder" if stat.S_ISDIR(mode) else "not a device"
    return f"{path[:120]} is {what}, not a device — Station only writes to printer and serial devices"


def serial_port_name(name: str, forms: str) -> str:
    """A plain serial port name (after serial://), checked: an absolute device path or COMn."""
    if _COM.fullmatch(name):
        return name
    if (not name.startswith("/") or "://" in name or _CONTROL.search(name) or len(name) > 255
            or ".." in name.split("/")):
        raise ValueError(f"{name[:120]!r} is not a serial device: a serial port is a device path such as "
                         f"/dev/ttyUSB0 or /dev/serial/by-id/NAME (or COM3 on Windows); forms: {forms}")
    problem = character_device_problem(name)  # an unplugged device may be missing: checked again at open
    if problem:
        raise ValueError(problem)
    return name


def pyserial_handler_url(url: str, own: dict[str, str], forms: str) -> tuple[str, dict[str, str]]:
    """(the pyserial URL to open, Station's own options) for serial+HANDLER://...; ValueError in words
    for a handler or an option Station does not pass to pyserial. No option goes to pyserial."""
    parts = urlsplit(url)
    handler = parts.scheme.lower().removeprefix("serial+")
    if handler not in PYSERIAL_HANDLERS:
        raise ValueError(f"serial+{handler[:20]}:// is not a serial connection Station opens; the pyserial "
                         f"handlers it opens are {', '.join(PYSERIAL_HANDLERS.values())}; forms: {forms}")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in own:
            known = ", ".join(own)
            raise ValueError(f"option {key[:40]!r} is not one Station reads (nothing is handed on to pyserial); "
                             f"known options: {known}")
        if key in options:
            raise ValueError(f"option {key!r} given twice")
        options[key] = value
    if parts.fragment or parts.username or parts.password or parts.path not in ("", "/"):
        raise ValueError(f"a serial+{handler}:// address is {PYSERIAL_HANDLERS[handler]}, nothing more")
    if handler == "loop":
        if parts.netloc:
            raise ValueError(f"serial+loop:// takes no host; forms: {forms}")
        return "loop://", options
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port or _CONTROL.search(unquote(parts.netloc)) or "%" in parts.netloc:
        raise ValueError(f"a serial+{handler}:// address needs a host and a port: {PYSERIAL_HANDLERS[handler]}")
    shown = f"[{host}]" if ":" in host else host
    return f"{handler}://{shown}:{port}", options
