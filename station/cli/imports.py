"""`station import KIND FILE [--dry-run]`: bulk import from a CSV or XLSX file (station/imports/)."""
from __future__ import annotations

from pathlib import Path

import click

from .. import get_db

SHOWN = 200  # problems printed; the count says how many more


@click.command("import")
@click.argument("kind", type=click.Choice(["items", "locations", "suppliers", "customers", "operators", "opening",
                                           "orders", "expected"]))
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and say what would be imported; write nothing.")
@click.option("--template", is_flag=True, help="Print the kind's template (header and an example row) instead; "
                                               "FILE is not read.")
def import_command(kind: str, file: Path | None, dry_run: bool, template: bool) -> None:
    """Import KIND from FILE (.csv UTF-8, or .xlsx): every row is checked first, and nothing is written
    while any row has a problem; then all rows are written in one transaction.

    \b
    Kinds, in the order a new site imports them: suppliers, customers, locations, operators, items,
    opening (opening stock), orders, expected (expected receipts).
    Limits: 32 MB and 250,000 rows per file; formulas in a workbook are refused (paste values).
    Exit code 0 when imported (or, with --dry-run, when it would be), 1 when the file has problems.
    """
    from .. import imports

    if template:
        click.echo(imports.template_csv(imports.KINDS[kind]), nl=False)
        return
    if file is None:
        raise click.UsageError("Give the FILE to import (or --template for an empty one).")
    if file.stat().st_size > imports.MAX_BYTES:
        raise click.ClickException(f"{file} is larger than {imports.MAX_BYTES // 1024 // 1024} MB; "
                                   "split it into smaller files. Nothing was imported.")
    try:
        table = imports.read(file.read_bytes(), file.name)
    except imports.FileRefused as exc:
        raise click.ClickException(f"{exc.message} Nothing was imported.") from None
    result = imports.import_table(get_db(), kind, table, dry_run=dry_run)
    for problem in result.problems[:SHOWN]:
        click.echo(str(problem), err=True)
    if len(result.problems) > SHOWN:
        click.echo(f"… and {len(result.problems) - SHOWN} more problems.", err=True)
    click.echo(result.summary(), err=not result.ok)
    if not result.ok:
        raise SystemExit(1)
