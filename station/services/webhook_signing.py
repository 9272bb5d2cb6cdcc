"""How a webhook is signed, and how a receiver checks it (the README's example does the same).

Station sends ``Station-Timestamp: <unix seconds>`` and ``Station-Signature: v1=<hex>``, where <hex> is
HMAC-SHA256 keyed with the subscription's secret over ``"<timestamp>." + <the body's bytes>``. Signing the
timestamp with the body lets a receiver refuse an old request played again (a replay attack) by
comparing the timestamp with its clock; the "v1=" names the scheme, so a later one can be sent beside it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SCHEME = "v1"
USER_AGENT = "Station-Webhooks/1"


def encode(event: dict[str, Any]) -> bytes:
    """The body as sent: compact JSON, UTF-8 (the bytes signed are the bytes sent)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """'v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>'."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def headers(secret: str, event: dict[str, Any], timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery (without Host, which the sender adds)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Station-Event-Id": str(event["id"]),
        "Station-Event-Type": str(event["type"]),
        "Station-Timestamp": str(timestamp),
        "Station-Signature": signature(secret, timestamp, body),
    }


def verify(secret: str, timestamp: str | int, body: bytes, signature_header: str,
           tolerance: float | None = 300, now: float | None = None) -> bool:
    """True when `signature_header` holds a v1 signature of `timestamp` and `body` with `secret`, and the
    timestamp is within `tolerance` seconds of `now` (None: any age). Compared in constant time."""
    timestamp = str(timestamp)
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if tolerance is not None and abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    offered = [part.strip() for part in str(signature_header).replace(" ", ",").split(",") if part.strip()]
    return any(hmac.compare_digest(expected.encode(), part.encode("utf-8", "replace")) for part in offered)
