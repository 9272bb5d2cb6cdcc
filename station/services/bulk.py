"""Many rows into one table at once on PostgreSQL, for the bulk import: ids drawn from the table's
sequence in one statement, then the rows sent by COPY.

Through SQLAlchemy an executemany with RETURNING becomes one multi-row INSERT per 1,000 rows whose
tens of thousands of parameters the driver parses again each time; 200,000 opening lots spent most of
their 100 s there. COPY streams the rows as they are, and the ids are known before they go, so the
rows that point at them (stock, pallets, ledger) need no answer back. Values pass through each column
type's bind processor first, so what is stored is what an INSERT through SQLAlchemy would have stored.
"""
from __future__ import annotations

from typing import Any

from psycopg import sql
from sqlalchemy import Table
from sqlalchemy.engine import Connection


def draw_ids(connection: Connection, table: Table, n: int) -> list[int]:
    """`n` new ids of `table`, ascending (the rows given them go in id order)."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       (table.name, n))
        return sorted(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()


def copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` (column name -> value, the same keys in every row, no id) into `table` with ids drawn
    here, in row order; returns the ids. PostgreSQL only, in the connection's transaction."""
    if not rows:
        return []
    ids = draw_ids(connection, table, len(rows))
    names = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        # psycopg composes the statement from identifiers (quoted by the driver), not from strings
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(name) for name in ["id", *names]))
        with cursor.copy(statement) as copy:
            for new_id, row in zip(ids, rows):
                copy.write_row([new_id, *(value if process is None or value is None else process(value)
                                          for process, value in zip(processors, map(row.__getitem__, names)))])
    finally:
        cursor.close()
    return ids
