"""The home page: pick a workflow."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, url_for

bp = Blueprint("home", __name__)


@dataclass(frozen=True)
class Tile:
    title: str
    text: str
    endpoint: str  # the workflow's page; the tile says "coming soon" until it exists
    icon: str


TILES = [
    Tile("Receiving", "Book in pallets at the dock", "receiving.index", "truck"),
    Tile("Put-away", "Move stock to its location", "putaway.index", "shelves"),
    Tile("Picking", "Pick orders, oldest lot first", "picking.index", "basket"),
    Tile("Line", "Use lots, make lots, print labels", "line.index", "factory"),
    Tile("Lot lookup", "Scan a lot: stock, status, history", "lots.index", "search"),
    Tile("Supervisor", "Holds, recalls, printers, people", "supervisor.index", "clipboard"),
    Tile("Scan", "Scan anything and see what it is", "scan.page", "barcode"),
    Tile("Scan log", "Every scan, raw bytes and result", "scan.log", "list"),
    Tile("Printers", "Printer states, label jobs, test print", "printers.index", "printer"),
]


@bp.get("/")
def index():
    tiles = [(tile, url_for(tile.endpoint) if tile.endpoint in current_app.view_functions else None)
             for tile in TILES]
    return render_template("home.html", tiles=tiles)
