"""Trace a lot (supervisors): a scanned lot, pallet or GS1 label opens that lot's trace.

    step(session, state, scan) -> Answer   ok with data {"lot", "direction"} (the page opens the trace),
                                           or an error in words when the scan names no one lot

state: {"direction": "backward" | "forward"}, the direction the trace page open at the station shows
(set by the page when it is drawn), so a scan of the station's own scanner opens the trace the same
way. A trace only reads: the answer follows from the scan's resolution (the page path passes no
session).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..scanning import Resolution
from . import Answer, Scanned

NAME = "trace"
DIRECTIONS = ("backward", "forward")


def direction_of(value: object) -> str:
    """A direction the trace knows; backward (where it came from) unless forward is asked for."""
    return value if value in DIRECTIONS else "backward"


def step(session: Session | None, state: dict, scan: Scanned) -> Answer:
    return answer_for(scan.resolution, direction_of(state.get("direction")))


def answer_for(res: Resolution, direction: str) -> Answer:
    """The lot a resolved scan names, to open its trace in `direction`; an error answer otherwise."""
    records = res.records or {}
    lot = records.get("lot") if res.ok else None
    if not lot:
        lots = records.get("lots") or []
        if len(lots) > 1:
            return Answer("error", "That supplier lot is in several of our lots.",
                          "Scan our own lot label: " + ", ".join(x["lot_number"] for x in lots[:5]) + ".")
        message = res.message if not res.ok else f"That is not a lot — {res.message}"
        return Answer("error", message, "Scan a lot label, a pallet label or type the lot number.")
    number = lot["lot_number"]
    return Answer("ok", f"Lot {number} — opening its trace.", data={"lot": number, "direction": direction})


def opened(state: dict, direction: str) -> dict:
    """The state once the trace page shows `direction`."""
    return {**state, "direction": direction_of(direction)}
