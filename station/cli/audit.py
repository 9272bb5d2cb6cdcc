"""`station audit verify`: walk the hash chains of the append-only tables (services/chain.py)."""
from __future__ import annotations

import click

from .. import get_db

@click.group("audit")
def audit_group() -> None:
    """Tamper evidence of the append-only tables."""


@audit_group.command("verify")
@click.option("--chain", "chains", multiple=True,
              type=click.Choice(["movements", "lot_events", "recall_events", "scans"]),
              help="Walk only this chain (repeatable). Default: all four.")
@click.option("--anchor", "anchors", multiple=True, metavar="CHAIN:ID:HASH",
              help="A head recorded earlier (as printed: chain, last id, head); the row must still carry that "
                   "hash (repeatable).")
def audit_verify_command(chains: tuple[str, ...], anchors: tuple[str, ...]) -> None:
    """Walk the hash chains of the ledger (movements), lot events, recall events and the scan log in id
    order and name the first row that does not match. Exit code 0: every chain intact; 1: one is not.

    Record the heads it prints somewhere else (off this machine): someone who can rewrite every row
    and the head leaves a chain that verifies, and only an outside copy of an earlier head shows it —
    give it back with --anchor CHAIN:ID:HASH."""
    from ..services import chain

    recorded: dict[str, dict[int, str]] = {}
    for anchor in anchors:
        name, _, rest = anchor.partition(":")
        row_id, _, value = rest.partition(":")
        if name not in chain.MODELS or not row_id.isdigit() or len(value) != 64:
            raise click.BadParameter(f"{anchor!r}: give CHAIN:ID:HASH, e.g. movements:48211:<64 hex digits>",
                                     param_hint="--anchor")
        if int(row_id):  # the head of a chain that was still empty anchors nothing
            recorded.setdefault(name, {})[int(row_id)] = value.lower()
    if chains:
        chains += tuple(name for name in recorded if name not in chains)
    reports = chain.verify(get_db(), chains or None, anchors=recorded)
    width = max(len(r.chain) for r in reports)
    for r in reports:
        state = "ok" if r.ok else "BROKEN"
        click.echo(f"{r.chain.ljust(width)}  {state:6}  {r.count} rows  last id {r.last_id}  head {r.head_hash}")
        if not r.ok:
            first = r.first
            where = f"{r.chain} id {first.row_id}" if first.row_id is not None else r.chain
            click.echo(f"  first bad row: {where}: {chain.WHAT[first.what]}: {first.detail}")
            if r.breaks > 1:
                click.echo(f"  ({r.breaks} places in this chain do not match in all)")
    broken = [r.chain for r in reports if not r.ok]
    if broken:
        click.echo(f"TAMPERED: not intact: {', '.join(broken)}", err=True)
        raise SystemExit(1)
    click.echo("all chains intact")
