"""No SQL built from strings in the application: every call that takes SQL text (`text()`,
`execute()`, `exec_driver_sql()`, a cursor's `execute()`) gets a constant, never an f-string, a
`%`-format, a `.format()` or a concatenation — values go in as bound parameters.

A static check over station/, devices/ and labels/ (the migrations and benchmarks build DDL from
constant table names and are not the application)."""
from __future__ import annotations

import ast

from station.config import ROOT

SQL_CALLS = {"text", "execute", "exec_driver_sql", "executemany"}
# Reviewed exceptions: (file, a piece of the statement) -> why it is safe.
ALLOWED = {
    ("station/db.py", "PRAGMA busy_timeout"): "an integer constant of the module, not data",
}


def _built(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return any(isinstance(side, ast.JoinedStr) or (isinstance(side, ast.Constant) and isinstance(side.value, str))
                   for side in (node.left, node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return isinstance(node.func.value, ast.Constant)
    return False


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def test_no_sql_text_is_built_from_strings():
    found = []
    for folder in ("station", "devices", "labels"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Call) and _name(node) in SQL_CALLS and node.args and _built(node.args[0]):
                    where = str(path.relative_to(ROOT))
                    snippet = ast.get_source_segment(source, node.args[0]) or ""
                    if not any(where == f and key in snippet for f, key in ALLOWED):
                        found.append(f"{where}:{node.lineno}: {snippet[:80]}")
    assert found == []


def test_the_check_catches_a_built_statement():
    tree = ast.parse('session.execute(text(f"SELECT * FROM lots WHERE lot_number = \'{n}\'"))')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n) in SQL_CALLS]
    assert any(_built(c.args[0]) for c in calls if c.args)
