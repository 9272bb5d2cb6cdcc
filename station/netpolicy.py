"""Which networks printers and scanners may be on: STATION_DEVICE_NETWORKS, a list of CIDRs.

A printer or scanner URL names either a device on this computer (sim://, file://, cups://QUEUE,
serial:///dev/ttyUSB0, the scanner agent) or a host on the network (tcp://HOST:PORT,
serial+socket://HOST:PORT, serial+rfc2217://HOST:PORT, cups://QUEUE?server=HOST). With an
allow-list set, every address a network host resolves to (getaddrinfo) must lie inside it; else the
URL is refused when it is set (printer settings, station set-up) and again when the print worker or
the scanner service would open it, so a row changed in the database directly is not opened either.
An empty list (the default) restricts nothing.

Nothing here opens a connection; devices/ knows nothing of this module (the policy is Station's).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

ENV = "STATION_DEVICE_NETWORKS"

# pyserial URL handlers that name a port on this computer; any other (socket://, rfc2217://, or one
# not known here) is held to name a network host, so an unknown handler cannot slip past the list.
LOCAL_SERIAL_HANDLERS = frozenset({"loop", "spy", "alt", "hwgrep"})


def parse_networks(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """'10.20.0.0/16, 192.168.5.0/24' -> networks; ValueError naming a bad entry in words."""
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{ENV}: {item!r} is not a network; write networks as CIDRs separated by "
                             f"commas, e.g. 10.20.0.0/16,192.168.5.0/24") from None
    return tuple(networks)


def from_environment() -> tuple[Network, ...]:
    """The allow-list of a process that has no app config (a print worker or scanner service run alone)."""
    return parse_networks(os.environ.get(ENV, ""))


def network_host(url: str) -> str | None:
    """The host a device URL connects to over the network, or None for a device on this computer
    (or a URL no backend opens: devices refuses that itself). ValueError for a network URL without
    a host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "tcp" or (scheme.startswith("serial+") and scheme[7:] not in LOCAL_SERIAL_HANDLERS):
        try:
            host = parts.hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError(f"the address '{url[:80]}' names no host")
        return host
    if scheme == "cups":
        server = dict(parse_qsl(parts.query)).get("server", "").strip()
        if not server or server.startswith("/"):  # the local scheduler, or its socket
            return None
        return urlsplit(f"//{server}").hostname or server
    return None


def _address(text: str) -> Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def addresses(host: str, resolve: Callable = socket.getaddrinfo) -> list[Address]:
    """Every address `host` stands for: itself when it is one, else what the name resolves to."""
    try:
        return [_address(host)]
    except ValueError:
        pass
    infos = resolve(host, None, 0, socket.SOCK_STREAM)
    return sorted({_address(info[4][0]) for info in infos}, key=str)


def refusal(url: str, networks: Iterable[Network], *, resolve: Callable = socket.getaddrinfo) -> str | None:
    """Why `url` may not be opened under the allow-list `networks`, in words; None when it may.
    With no networks, nothing is refused and no name is looked up."""
    networks = tuple(networks)
    if not networks:
        return None
    allowed = ", ".join(str(n) for n in networks)
    try:
        host = network_host(url)
    except ValueError as exc:
        return f"{exc}; devices may only be on these networks: {allowed}"
    if host is None:
        return None
    try:
        found = addresses(host, resolve)
    except (OSError, UnicodeError) as exc:
        return (f"the device's host '{host[:60]}' could not be looked up ({getattr(exc, 'strerror', None) or exc}), "
                f"so it cannot be checked against the networks devices may be on: {allowed}")
    if not found:
        return f"the device's host '{host[:60]}' has no address; devices may only be on these networks: {allowed}"
    outside = [a for a in found if not any(a in n for n in networks)]
    if outside:
        where = str(outside[0]) if str(outside[0]) == host else f"{host[:60]} ({outside[0]})"
        return (f"the device at {where} is outside the networks devices may be on ({allowed}, "
                f"set by {ENV})")
    return None
