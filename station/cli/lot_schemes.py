"""`station lot-scheme`: lot-numbering patterns, for the whole site or one item."""
from __future__ import annotations

import click

from .. import get_db
from ..models import SequenceReset

@click.group("lot-scheme")
def scheme_group() -> None:
    """Lot-numbering patterns, for the whole site or one item."""


@scheme_group.command("set")
@click.argument("pattern")
@click.option("--reset", type=click.Choice([r.value for r in SequenceReset]), default="daily",
              show_default=True, help="When the {seq} counter starts again at 1.")
@click.option("--item", "sku", help="Give this item its own pattern instead of the site default.")
def scheme_set_command(pattern: str, reset: str, sku: str | None) -> None:
    """Set a pattern, e.g. '{yy}{mm}{dd}-{seq:03}' or '{item}-{yy}{jjj}-{seq:04}'."""
    from ..services.catalog import item_by_sku
    from ..services.errors import DomainError
    from ..services.numbering import set_scheme

    try:
        with get_db().write() as session:
            item = item_by_sku(session, sku) if sku else None
            scheme = set_scheme(session, pattern, SequenceReset(reset), item)
            click.echo(f"{scheme.name}: {scheme.pattern} (resets {scheme.reset.value})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@scheme_group.command("list")
def scheme_list_command() -> None:
    """Show every pattern and the items that use it."""
    from sqlalchemy import select

    from ..models import Item, LotScheme

    with get_db().read() as session:
        for scheme in session.scalars(select(LotScheme).order_by(LotScheme.name)):
            skus = session.scalars(select(Item.sku).where(Item.lot_scheme_id == scheme.id)).all()
            users = ", ".join(skus) if skus else ("all other items" if scheme.name == "default" else "-")
            click.echo(f"{scheme.name:<20} {scheme.pattern:<30} {scheme.reset.value:<8} {users}")
