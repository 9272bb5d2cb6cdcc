"""`station operator add/list/set-role/reset-pin/disable/enable`: the site's people from a shell, on the
real database (SQLite and PostgreSQL). Every refusal is a clear error and changes nothing."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from station.auth.sessions import start_session
from station.models import FloorSession, Operator, Role
from station.services.pins import check_pin


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        with app.app_context():
            return runner.invoke(args=["operator", *args], input=input)

    return invoke


def _operators(database) -> list[tuple]:
    """Every operator as a tuple of what a command may change (to show that nothing did)."""
    with database.read() as s:
        return [tuple(r) for r in s.execute(select(Operator.badge, Operator.name, Operator.role, Operator.active,
                                                   Operator.pin_hash).order_by(Operator.id))]


def _op(database, badge: str) -> Operator:
    with database.read() as s:
        op = s.scalar(select(Operator).where(Operator.badge == badge))
        s.expunge(op)
        return op


def test_add_and_list(run, database, caplog):
    caplog.set_level(logging.INFO, logger="station.operators")
    result = run("add", "  1042 ", "Ada   Lovelace", "--role", "receiver")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Added Ada Lovelace (1042) as receiver."
    result = run("add", "7", "Grace Hopper", "--role", "admin", "--pin", input="4711\n4711\n")
    assert result.exit_code == 0, result.output
    assert "4711" not in result.output.replace("4711\n4711", "") and "with a PIN" in result.output
    grace = _op(database, "7")
    assert grace.role == Role.ADMIN and grace.active and check_pin(grace.pin_hash, "4711")
    assert "4711" not in grace.pin_hash
    assert _op(database, "1042").pin_hash is None

    listed = run("list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["BADGE", "NAME", "ROLE", "PIN", "ACTIVE"]
    assert lines[1].split() == ["1042", "Ada", "Lovelace", "receiver", "-", "yes"]
    assert lines[2].split() == ["7", "Grace", "Hopper", "admin", "set", "yes"]
    assert "scrypt" not in listed.output and "4711" not in listed.output
    # Each change leaves a trace: who was changed, what, by whom.
    traces = [r.getMessage() for r in caplog.records if r.name == "station.operators"]
    assert any("operator 1042 (Ada Lovelace): added as receiver, by the station command" in t for t in traces)
    assert any("operator 7 (Grace Hopper): added as admin with a PIN" in t for t in traces)


@pytest.mark.parametrize("args, words", [
    (("B-1", "Dup", "--role", "picker"), "Badge 'B-1' already belongs to Bea Busy; give the new operator "
                                         "another badge. Nothing was changed."),
    (("b-1", "Dup", "--role", "picker"), "already belongs to Bea Busy"),  # badges differ by case only
    (("X" * 41, "Long", "--role", "picker"), "A badge is at most 40 characters (this one has 41)"),
    (("  ", "Blank", "--role", "picker"), "Type or scan the badge number"),
    (("A\tB", "Tab", "--role", "picker"), "no accents, tabs, line breaks or hidden characters"),
    (("Zoë-1", "Accent", "--role", "picker"), "A badge can hold the letters A-Z, digits and signs only"),
    (("OPR:9", "Prefixed", "--role", "picker"), "cannot start with 'OPR:'"),
    (("B-2", "   ", "--role", "picker"), "Type the operator's name"),
    (("B-2", "N" * 121, "--role", "picker"), "A name is at most 120 characters"),
    (("B-2", "Pin Short", "--role", "picker", "--pin", "12"), "A PIN is 4 to 12 digits, nothing else"),
    (("B-2", "Pin Letters", "--role", "picker", "--pin", "12ab"), "A PIN is 4 to 12 digits"),
])
def test_add_refusals_change_nothing(run, database, args, words):
    assert run("add", "B-1", "Bea Busy", "--role", "picker").exit_code == 0
    before = _operators(database)
    result = run("add", *args)
    assert result.exit_code == 1, result.output
    assert words in result.output and "Nothing was changed." in result.output
    assert _operators(database) == before


def test_add_needs_a_known_role(run, database):
    result = run("add", "B-3", "Who", "--role", "boss")
    assert result.exit_code == 2 and "'boss' is not one of" in result.output
    assert run("add", "B-3", "Who").exit_code == 2  # --role is required
    assert _operators(database) == []


def test_set_role(run, database):
    run("add", "B-1", "Bea Busy", "--role", "picker")
    bea = _op(database, "B-1")
    start_session(database, bea.id)
    result = run("set-role", "B-1", "supervisor")
    assert result.exit_code == 0 and "Bea Busy (B-1) is now supervisor; they sign in again" in result.output
    with database.read() as s:  # no open session gains a supervisor's powers without the PIN step
        assert s.scalar(select(func.count()).select_from(FloorSession)
                        .where(FloorSession.operator_id == bea.id, FloorSession.ended_at.is_(None))) == 0
    assert _op(database, "B-1").role == Role.SUPERVISOR
    again = run("set-role", "B-1", "supervisor")
    assert again.exit_code == 0 and "is supervisor already; nothing changed" in again.output
    before = _operators(database)
    unknown = run("set-role", "NOPE", "picker")
    assert unknown.exit_code == 1 and "No operator has badge 'NOPE'. Nothing was changed." in unknown.output
    assert run("set-role", "B-1", "king").exit_code == 2
    assert _operators(database) == before


def test_the_last_admin_stays(run, database):
    run("add", "A-1", "Ann Admin", "--role", "admin")
    before = _operators(database)
    demoted = run("set-role", "A-1", "picker")
    assert demoted.exit_code == 1 and "Ann Admin is the last active admin" in demoted.output
    disabled = run("disable", "A-1")
    assert disabled.exit_code == 1 and "last active admin" in disabled.output
    assert _operators(database) == before
    run("add", "A-2", "Abe Admin", "--role", "admin")
    assert run("disable", "A-1").exit_code == 0
    assert run("set-role", "A-2", "picker").exit_code == 1  # Abe is now the last active one


def test_reset_pin_clears_it_and_the_lock(run, database):
    run("add", "S-1", "Sam Super", "--role", "supervisor", "--pin", "2580")
    with database.write() as s:
        op = s.scalar(select(Operator).where(Operator.badge == "S-1"))
        op.pin_failures, op.pin_lock_count = 2, 1
    result = run("reset-pin", "S-1")
    assert result.exit_code == 0 and "PIN cleared for Sam Super (S-1)" in result.output
    sam = _op(database, "S-1")
    assert sam.pin_hash is None and sam.pin_failures == 0 and sam.pin_lock_count == 0
    assert run("set-pin", "S-1", "--pin", "9753").exit_code == 0
    assert check_pin(_op(database, "S-1").pin_hash, "9753")
    before = _operators(database)
    assert "No operator has badge" in run("reset-pin", "NOPE").output
    assert _operators(database) == before


def test_disable_ends_every_session_and_enable_lets_them_back(run, database):
    run("add", "P-1", "Pia Picker", "--role", "picker")
    pia = _op(database, "P-1")
    for _ in range(2):
        start_session(database, pia.id)
    result = run("disable", "P-1")
    assert result.exit_code == 0 and result.output.strip() == "Pia Picker (P-1) is disabled: 2 floor sessions ended."
    with database.read() as s:
        open_ = s.scalar(select(func.count()).select_from(FloorSession)
                         .where(FloorSession.operator_id == pia.id, FloorSession.ended_at.is_(None)))
        reasons = set(s.scalars(select(FloorSession.end_reason).where(FloorSession.operator_id == pia.id)))
    assert open_ == 0 and reasons == {"disabled"}
    assert not _op(database, "P-1").active
    assert "was disabled already; nothing changed" in run("disable", "P-1").output
    assert "Pia Picker" not in run("list").output and "disabled" in run("list", "--all").output
    result = run("enable", "P-1")
    assert result.exit_code == 0 and "Pia Picker (P-1) can sign in again." in result.output
    assert _op(database, "P-1").active
    assert "is active already; nothing changed" in run("enable", "P-1").output
    assert "No operator has badge 'NOPE'" in run("disable", "NOPE").output
