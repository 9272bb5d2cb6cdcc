"""Who may do what on the floor: the workflows, the roles allowed each, and the refusal in words.

No Flask here: the pages and the API (token roles) both read it."""
from __future__ import annotations

from ..models import Role

R = Role
ALL_ROLES = frozenset(Role)

WORKFLOWS: dict[str, frozenset[Role]] = {
    "receiving": frozenset({R.RECEIVER, R.SUPERVISOR, R.ADMIN}),
    "putaway": frozenset({R.RECEIVER, R.PICKER, R.SUPERVISOR, R.ADMIN}),
    "picking": frozenset({R.PICKER, R.SUPERVISOR, R.ADMIN}),
    "line": frozenset({R.LINE_OPERATOR, R.SUPERVISOR, R.ADMIN}),
    "lookup": ALL_ROLES,
    "supervisor": frozenset({R.SUPERVISOR, R.ADMIN}),  # hold / quarantine / release, create items
    "setup": frozenset({R.SUPERVISOR, R.ADMIN}),       # bind this device to a station
    "printers": frozenset({R.ADMIN}),                  # add printers, change their address and settings
    "operators": frozenset({R.ADMIN}),                 # add people, roles, PINs, locks, sessions
    "count": ALL_ROLES,                                # count a location (approvals: "supervisor")
    "returns": frozenset({R.RECEIVER, R.SUPERVISOR, R.ADMIN}),  # customer returns at the dock
    "orders": frozenset({R.SUPERVISOR, R.ADMIN}),      # orders, customers, expected receipts
    "imports": frozenset({R.ADMIN}),                   # bulk import of master data and opening stock
    "events": frozenset({R.SUPERVISOR, R.ADMIN}),      # read the event feed (an ERP's integration token)
    "webhooks": frozenset({R.ADMIN}),                  # webhook subscriptions, replays, dead deliveries
}
# Cancelling and reprinting any print job (pages and API): the roles whose work prints labels.
WORKFLOWS["printing"] = WORKFLOWS["receiving"] | WORKFLOWS["line"] | WORKFLOWS["supervisor"]

TITLES = {"receiving": "Receiving", "putaway": "Put-away", "picking": "Picking", "line": "The line",
          "lookup": "Lot lookup", "supervisor": "The supervisor screen", "setup": "Station set-up",
          "printers": "Printer settings", "operators": "Operators",
          "printing": "Cancelling and reprinting labels", "count": "Counting stock",
          "returns": "Customer returns", "orders": "Orders, customers and expected receipts",
          "imports": "Importing", "events": "The event feed", "webhooks": "Webhooks"}
ROLE_NAMES = {R.RECEIVER: "receiver", R.PICKER: "picker", R.LINE_OPERATOR: "line operator",
              R.SUPERVISOR: "supervisor", R.ADMIN: "admin"}
ROLE_PLURALS = {R.RECEIVER: "receivers", R.PICKER: "pickers", R.LINE_OPERATOR: "line operators",
                R.SUPERVISOR: "supervisors", R.ADMIN: "admins"}



def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def refusal(workflow: str) -> str:
    """Why the signed-in operator may not use `workflow`, in words."""
    roles = [r for r in Role if r in WORKFLOWS[workflow]]
    shown = [r for r in roles if r is not R.ADMIN] or roles  # admins may do anything; no need to say
    return (f"{TITLES.get(workflow, workflow.capitalize())} is for {_join([ROLE_PLURALS[r] for r in shown])}"
            f" — sign in with such a badge")


