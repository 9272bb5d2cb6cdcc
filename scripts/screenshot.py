"""Make docs/screenshot.png: the lot card of a demo lot, in headless Chromium at tablet size.

    .venv/bin/python scripts/screenshot.py [OUTPUT]

Seeds a throw-away SQLite database with station.demo, serves it with waitress on 127.0.0.1 and scans a lot that has been received, put
away, picked and shipped. Uses the browser helpers of the test suite (tests/browser_support.py).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from sqlalchemy import func, select  # noqa: E402

from browser_support import TABLET, LiveServer, chromium, require_chromium  # noqa: E402
from station import create_app  # noqa: E402
from station.db import Database  # noqa: E402
from station.demo import seed_demo  # noqa: E402
from station.models import Lot, LotStatus, Movement, MovementKind, Stock  # noqa: E402
from station.schema import upgrade  # noqa: E402


def showcase_lot(db: Database) -> str:
    """A received lot, available, in more than one place, already shipped to customers."""
    with db.read() as s:
        moves = func.count(func.distinct(Movement.id))
        places = func.count(func.distinct(Stock.id))
        shipped = select(Movement.lot_id).where(Movement.kind == MovementKind.SHIP)
        return s.scalar(
            select(Lot.lot_number)
            .join(Movement, Movement.lot_id == Lot.id)
            .join(Stock, (Stock.lot_id == Lot.id) & (Stock.qty > 0))
            .where(Lot.status == LotStatus.AVAILABLE, Lot.origin == "receipt", Lot.id.in_(shipped))
            .group_by(Lot.id, Lot.lot_number)
            .having(moves <= 9)
            .order_by(places.desc(), moves.desc(), Lot.lot_number)
            .limit(1))


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/station.db"
        db = Database(url)
        upgrade(db)
        seed_demo(db)
        lot_number = showcase_lot(db)
        db.dispose()
        os.environ["STATION_INSTANCE"] = f"{tmp}/instance"
        app = create_app({"DATABASE_URL": url})
        with LiveServer(app) as server, chromium(require_chromium()) as browser:
            page = browser.new_context(viewport=TABLET).new_page()
            page.goto(f"{server.url}/lots")
            page.keyboard.type(lot_number)
            page.keyboard.press("Enter")
            page.locator("#lot-card").wait_for()
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output), full_page=True)
        app.extensions["station.db"].dispose()
    print(f"{output}: lot {lot_number}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")
