"""Which networks printers and scanners may be on: STATION_DEVICE_NETWORKS, a list of CIDRs, and the
rule that a network device is never the server itself.

A printer or scanner URL names either a device on this computer (sim://, file://, cups://QUEUE,
serial:///dev/ttyUSB0, the scanner agent; what those may name is devices.addresses' business) or a
host on the network (tcp://HOST:PORT, serial+socket://HOST:PORT, serial+rfc2217://HOST:PORT,
cups://QUEUE?server=HOST). Every address a network host resolves to (getaddrinfo) is checked:

- a loopback (127.0.0.0/8, ::1, so also localhost), link-local (169.254.0.0/16, fe80::/10) or
  unspecified (0.0.0.0/8, ::) address is refused — it reaches the server's own services or the
  cloud metadata service, not a printer — unless STATION_DEVICE_NETWORKS names a network inside those
  ranges that holds it (e.g. 127.0.0.1/32 for the printer emulator of the demo and the tests; a wide
  network such as 0.0.0.0/0 does not count);
- with STATION_DEVICE_NETWORKS set, every address must lie inside it.

The URL is refused in words when it is set (printer settings, station set-up) and again when the print
worker or the scanner service would open it, so a row changed in the database directly is not opened
either. With the list empty (the default) any other host is allowed; a name that cannot be looked up
then is left to the device's own connection (which looks it up again and fails in words).

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

# pyserial URL handlers: loop:// is on this computer, socket:// and rfc2217:// name a network host;
# any other is refused here too (devices.addresses opens only these three), so an unknown handler
# cannot slip past the list.
LOCAL_SERIAL_HANDLERS = frozenset({"loop"})
NETWORK_SERIAL_HANDLERS = frozenset({"socket", "rfc2217"})

# Addresses on the server itself or its link: refused for network devices unless named (see above).
LOCAL_RANGES: dict[str, tuple[Network, ...]] = {
    "loopback": (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    "link-local": (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")),
    "unspecified": (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128")),
}


def parse_networks(value: str | Iterable[str] | None, setting: str = ENV) -> tuple[Network, ...]:
    """'10.20.0.0/16, 192.168.5.0/24' -> networks; ValueError naming `setting` and a bad entry in words."""
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {item!r} is not a network; write networks as CIDRs separated by "
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
    if scheme.startswith("serial+") and scheme[7:] not in LOCAL_SERIAL_HANDLERS | NETWORK_SERIAL_HANDLERS:
        raise ValueError(f"the address '{url[:80]}' uses {scheme[:30]}://, which is not a serial connection Station "
                         f"opens (serial+socket://, serial+rfc2217://, serial+loop://)")
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


def local_kind(address: Address) -> str | None:
    """'loopback', 'link-local' or 'unspecified' for an address on the server itself or its link."""
    for kind, ranges in LOCAL_RANGES.items():
        if any(address.version == r.version and address in r for r in ranges):
            return kind
    return None


def _named(address: Address, networks: tuple[Network, ...]) -> bool:
    """True when the list names `address` by a network inside the local ranges (127.0.0.1/32, not 0.0.0.0/0)."""
    local = [r for ranges in LOCAL_RANGES.values() for r in ranges]
    return any(n.version == address.version and address in n
               and any(n.version == r.version and n.subnet_of(r) for r in local)  # type: ignore[arg-type]
               for n in networks)


def refusal(url: str, networks: Iterable[Network], *, resolve: Callable = socket.getaddrinfo) -> str | None:
    """Why `url` may not be opened under the allow-list `networks`, in words; None when it may.
    A device on this computer is not looked at; a network host is looked up unless it is an address."""
    networks = tuple(networks)
    allowed = ", ".join(str(n) for n in networks)
    try:
        host = network_host(url)
    except ValueError as exc:
        return f"{exc}; devices may only be on these networks: {allowed}" if networks else str(exc)
    if host is None:
        return None
    try:
        found = addresses(host, resolve)
    except (OSError, UnicodeError) as exc:
        if not networks:
            return None  # nothing to hold it to: the connection looks it up again and says why it fails
        return (f"the device's host '{host[:60]}' could not be looked up ({getattr(exc, 'strerror', None) or exc}), "
                f"so it cannot be checked against the networks devices may be on: {allowed}")
    if not found:
        return f"the device's host '{host[:60]}' has no address" + (
            f"; devices may only be on these networks: {allowed}" if networks else "")

    def where(address: Address) -> str:
        return str(address) if str(address) == host else f"{host[:60]} ({address})"

    outside = [a for a in found if networks and not any(a in n for n in networks)]
    if outside:
        return (f"the device at {where(outside[0])} is outside the networks devices may be on ({allowed}, "
                f"set by {ENV})")
    for address in found:
        kind = local_kind(address)
        if kind is not None and not _named(address, networks):
            what = {"loopback": "this server itself (a loopback address)",
                    "link-local": "a link-local address (169.254.0.0/16, fe80::/10: the cloud metadata service, "
                                  "not a printer)",
                    "unspecified": "an unspecified address (0.0.0.0 or ::), which reaches this server itself"}[kind]
            example = "127.0.0.1/32" if kind != "link-local" else "169.254.10.0/24"
            return (f"the device at {where(address)} is {what}: a network printer or scanner may not point at "
                    f"the server's own services — a site whose device really is there names that network in "
                    f"{ENV} (e.g. {example})")
    return None
