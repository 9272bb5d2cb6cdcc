"""Where webhooks may be sent: STATION_WEBHOOK_NETWORKS, and the rule that a receiver on a private
network must be named in it.

A webhook URL is typed by an admin (or sent by an API token), and Station's worker then POSTs to it from
inside the site's network: unchecked, that is a way to reach the server's own services, the cloud
metadata service or any machine on the LAN (SSRF). So:

- only http:// and https:// URLs with a host, no user name or password in the URL (a secret in a URL ends
  up in logs; the signature authenticates Station), at most 500 characters;
- every address the host resolves to is checked: with STATION_WEBHOOK_NETWORKS empty (the default) each
  must be a public internet address (not private, loopback, link-local, carrier-grade NAT, multicast or
  reserved); with it set (e.g. ``10.20.0.0/16`` for an ERP on the LAN, ``127.0.0.1/32`` for a receiver
  on this server) each must lie inside one of its networks, or be public.

The URL is checked when a subscription is saved and again at every delivery, and the worker connects to
the very address it checked (``resolve()``): a name that resolves to a public address when saved and to
a private one later (DNS rebinding) is refused at delivery. Redirects are never followed (the worker
treats a 3xx as a failed attempt), so a receiver cannot send Station elsewhere.

Nothing here opens a connection.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import netpolicy
from .netpolicy import Address, Network, _address

ENV = "STATION_WEBHOOK_NETWORKS"
MAX_URL = 500
SCHEMES = {"http": 80, "https": 443}


def parse_networks(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """'10.20.0.0/16, 127.0.0.1/32' -> networks; ValueError naming a bad entry in words."""
    return netpolicy.parse_networks(value, ENV)


def from_environment() -> tuple[Network, ...]:
    return parse_networks(os.environ.get(ENV, ""))


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (a checked address) and what to say the host is (Host, TLS name)."""

    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str


def url_problem(url: str) -> str | None:
    """What is wrong with the URL's form, in words (no lookup); None when it is fine."""
    if not isinstance(url, str) or not url.strip():
        return "Give the receiver's URL, e.g. https://erp.example.com/station/events."
    if len(url) > MAX_URL:
        return f"The URL is longer than {MAX_URL} characters."
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "The URL may not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return f"'{url[:80]}' is not a URL Station can send to."
    if parts.scheme.lower() not in SCHEMES:
        return f"The URL must start with https:// or http:// ('{parts.scheme[:20]}://' is not sent to)."
    if not host:
        return "The URL names no host."
    if parts.username is not None or parts.password is not None:
        return ("Leave the user name and password out of the URL: receivers check Station's signature "
                "(Station-Signature) instead.")
    if parts.fragment:
        return "The URL may not have a #fragment."
    if port == 0:
        return "The URL's port may not be 0."
    return None


def _kind(address: Address) -> str | None:
    """Why an address is not public, or None for a public internet address."""
    if address.is_loopback:
        return "this server itself (a loopback address)"
    if address.is_link_local:
        return "a link-local address (169.254.0.0/16, fe80::/10: the cloud metadata service lives there)"
    if address.is_unspecified:
        return "an unspecified address (0.0.0.0 or ::)"
    if address.is_multicast:
        return "a multicast address"
    if address in ipaddress.ip_network("100.64.0.0/10"):
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private or reserved address"
    return None


def resolve(url: str, networks: Iterable[Network], *,
            lookup: Callable = socket.getaddrinfo) -> tuple[Target | None, str | None]:
    """(the checked target, None) or (None, why not in words). Looks the host up (unless it is an address)
    and checks every address it has: the worker connects to the first one."""
    problem = url_problem(url)
    if problem:
        return None, problem
    networks = tuple(networks)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or SCHEMES[scheme]
    try:
        found = [_address(host)]
    except ValueError:
        try:
            infos = lookup(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return None, f"The host '{host[:60]}' could not be looked up ({getattr(exc, 'strerror', None) or exc})."
        found = sorted({_address(info[4][0]) for info in infos}, key=str)
    if not found:
        return None, f"The host '{host[:60]}' has no address."
    for address in found:
        kind = _kind(address)
        if kind is None or any(address.version == n.version and address in n for n in networks):
            continue
        where = str(address) if str(address) == host else f"{host[:60]} ({address})"
        allowed = ", ".join(str(n) for n in networks) or "none set"
        return None, (f"The receiver at {where} is {kind}: webhooks go to public addresses, or to networks "
                      f"named in {ENV} (now: {allowed}; e.g. 10.20.0.0/16 for an ERP on the site's network).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, str(found[0])), None


def refusal(url: str, networks: Iterable[Network], *, lookup: Callable = socket.getaddrinfo) -> str | None:
    """Why `url` may not receive webhooks, in words; None when it may."""
    return resolve(url, networks, lookup=lookup)[1]
