"""The home page: pick a workflow."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, url_for

from ..auth import WORKFLOWS, current_operator

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    title: str
    text: str
    endpoint: str  # the workflow's page; the tile says "coming soon" until it exists
    icon: str
    workflow: str  # who sees the tile: the roles of auth.WORKFLOWS[workflow]


TILES = [
    Tile("Receiving", "Book in pallets at the dock", "receiving.index", "truck", "receiving"),
    Tile("Put-away", "Move stock to its location", "putaway.index", "shelves", "putaway"),
    Tile("Picking", "Pick orders, oldest lot first", "picking.index", "basket", "picking"),
    Tile("Line", "Use lots, make lots, print labels", "line.index", "factory", "line"),
    Tile("Lot lookup", "Scan a lot: stock, status, history", "lots.index", "search", "lookup"),
    Tile("Supervisor", "Holds, recalls, printers, people", "supervisor.index", "clipboard", "supervisor"),
    Tile("Scan", "Scan anything and see what it is", "scan.page", "barcode", "lookup"),
    Tile("Scan log", "Every scan, raw bytes and result", "scan.log", "list", "setup"),
    Tile("Printers", "Printer states, label jobs, test print", "printers.index", "printer", "lookup"),
    Tile("Station set-up", "Which station this device is", "setup.page", "home", "setup"),
    Tile("Count", "Count a location's stock", "counting.index", "list", "count"),
    Tile("Returns", "Goods back from a customer", "returns.index", "return", "returns"),
    Tile("Orders", "Enter and cancel pick orders", "orders_admin.index", "basket", "orders"),
    Tile("Expected receipts", "What suppliers will deliver", "expected_admin.index", "truck", "orders"),
    Tile("Customers", "Who we ship to, shelf life they need", "customers_admin.index", "people", "orders"),
    Tile("Operators", "People, roles, PINs, badges", "operators_admin.index", "people", "operators"),
    Tile("Import", "Items, stock, people from CSV or Excel", "imports_admin.index", "upload", "imports"),
    Tile("Webhooks", "Events to the ERP: receivers, retries", "webhooks_admin.index", "send", "webhooks"),
]


@bp.get("/")
def index():
    """The tiles of the workflows the signed-in operator may use; signed out, only the sign-in prompt
    (every workflow page needs a signed-in operator: auth.require_signed_in)."""
    op = current_operator()
    shown = [t for t in TILES if op is not None and op.role in WORKFLOWS[t.workflow]]
    tiles = [(tile, url_for(tile.endpoint) if tile.endpoint in current_app.view_functions else None)
             for tile in shown]
    return render_template("home.html", tiles=tiles, operator=op)
