"""A tap's answer, kept in the workflow's state until its page shows it.

Taps are plain forms (POST, redirect, GET): what the tap said waits in the state under "note" and the
next whole page shows it, once, instead of the step's usual prompt. A scan step drops a waiting note
(the scan's own answer is what the worker sees now).
"""
from __future__ import annotations

from dataclasses import replace

from . import Answer

KEY = "note"


def noted(state: dict, answer: Answer) -> dict:
    """`state` with `answer` waiting to be shown."""
    return {**state, KEY: [answer.kind, answer.message, answer.detail]}


def without(state: dict) -> dict:
    """The workflow's own state, without a waiting note."""
    return {k: v for k, v in state.items() if k != KEY}


def waiting(state: dict) -> Answer | None:
    """The note waiting to be shown, if any."""
    note = state.get(KEY)
    if isinstance(note, list) and len(note) == 3 and note[0] in ("ok", "error", "info", "warn"):
        return Answer(note[0], str(note[1]), note[2])
    return None


def dropped(state: dict, answer: Answer) -> Answer:
    """A scan step's answer, with any note that was waiting dropped from the state."""
    if KEY in state and answer.state is None:
        return replace(answer, state=without(state))
    return answer
