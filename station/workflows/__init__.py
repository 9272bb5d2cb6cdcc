"""The floor's workflows as services: one step function per workflow, no Flask.

Every scan enters through `intake.take` (station/workflows/intake.py): cleaned, size-checked,
de-duplicated (client id, trigger bounce), logged and resolved once, then handed to the step of the
workflow active at that station, in the same transaction. A workflow module (receiving, putaway,
picking, line, lookup, trace, recall) defines

    NAME = "putaway"                      # a key of station.auth.WORKFLOWS (who may use it)
    def step(session, state: dict, scan: Scanned) -> Answer

`state` is the workflow's own JSON (what the worker is in the middle of, kept by state.py in
workflow_states, held by the station or the browser's floor session); the step returns an Answer
with the new state in `Answer.state` (None: unchanged). A step never raises for a refusal: a
DomainError becomes an error Answer. Page views and API routes are adapters: they take the scan,
then render the answer with the workflow's screen.

Taps (a quantity typed, an override reason, "finish") are not scans: they call the workflow's own
functions over the same state (`state.load` / `state.save`), in their own transaction.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Protocol

from sqlalchemy.orm import Session

from ..scanning import Resolution
from ..services.actor import Actor

# The workflows a scan can be applied to, and the module that holds each step (imported on first use).
MODULES = {
    "receiving": "station.workflows.receiving",
    "putaway": "station.workflows.putaway",
    "picking": "station.workflows.picking",
    "line": "station.workflows.line",
    "lookup": "station.workflows.lookup",
    "trace": "station.workflows.trace",
    "recall": "station.workflows.recall",
    "count": "station.workflows.count",
    "returns": "station.workflows.returns",
}
# The role key (station.auth.WORKFLOWS) that may use each workflow, where it is not the workflow's own name.
ROLE_KEYS = {"trace": "supervisor", "recall": "supervisor"}
KINDS = ("ok", "error", "info", "warn")


@dataclass(frozen=True)
class Answer:
    """What a step did, in a worker's words: a banner (ok green, error red, info neutral, warn amber).

    `state` is the workflow's state after the step (None: unchanged; {} ends it). `data` holds
    JSON-safe facts an adapter needs (e.g. {"redirect": "/lots/L1"}, {"moved": 40}); it is kept with
    the scan, like kind, message and detail, so a retry gets the same answer."""

    kind: str
    message: str
    detail: str | None = None
    state: dict | None = field(default=None, compare=False)
    data: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Answer kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "detail": self.detail, "data": self.data}

    @classmethod
    def from_dict(cls, value: dict) -> Answer:
        return cls(value.get("kind", "info"), value.get("message", ""), value.get("detail"),
                   data=value.get("data") or {})


@dataclass(frozen=True)
class Scanned:
    """One logged scan as a step sees it: its resolution, the code as scanned, and who scanned it where."""

    scan_id: int
    resolution: Resolution
    raw: str
    actor: Actor
    source: str = "wedge"


class Step(Protocol):
    def __call__(self, session: Session, state: dict, scan: Scanned) -> Answer: ...


def step_of(workflow: str) -> Callable[[Session, dict, Scanned], Answer]:
    """The step function of `workflow` (KeyError for a workflow that takes no scans)."""
    return importlib.import_module(MODULES[workflow]).step


def role_key(workflow: str) -> str:
    """The key of station.auth.WORKFLOWS whose roles may use `workflow`."""
    return ROLE_KEYS.get(workflow, workflow)
