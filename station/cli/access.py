"""`station token` (API tokens) and `station operator` (add, list, roles, PINs, disable/enable, locks,
sessions): who may do what. Operator changes go through services/operators.py, as the page's and the API's."""
from __future__ import annotations

from contextlib import contextmanager

import click
from flask import current_app

from .. import get_db
from ..models import Role, TokenRole


@click.group("token")
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in TokenRole]), default=Role.SUPERVISOR.value,
              show_default=True,
              help="An operator role (the API routes of its workflows), or agent: a station PC's scanner "
                   "agent, which may only post its own station's scans.")
@click.option("--station", default=None,
              help="For --role agent (required): the station whose scans the token may post, by its name "
                   "as in Station set-up. Other roles take no station.")
def token_create_command(name: str, role: str, station: str | None) -> None:
    """Create an API token and print it (it is shown only once).

    \b
    station token create erp --role supervisor
    station token create "Dock PC agent" --role agent --station "Dock PC"
    """
    from ..services.tokens import TokenError, create_token

    try:
        with get_db().write() as session:
            token = create_token(session, name, TokenRole(role), station=station)
    except TokenError as exc:  # nothing was stored
        raise click.ClickException(f"{exc} No token was made.") from None
    click.echo(token)


def _when(ts) -> str:
    """A stored timestamp as UTC to the minute ('2026-11-25 18:02 UTC'); '-' for none."""
    import datetime as dt

    if ts is None:
        return "-"
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@token_group.command("list")
def token_list_command() -> None:
    """List the API tokens: id, name, role, station (agent tokens), created, revoked (never the secret
    or its hash)."""
    from sqlalchemy import select

    from ..models import ApiToken, StationDevice

    with get_db().read() as session:
        rows = session.execute(select(ApiToken.id, ApiToken.name, ApiToken.role, StationDevice.name.label("station"),
                                      ApiToken.created_at, ApiToken.revoked_at)
                               .outerjoin(StationDevice, StationDevice.id == ApiToken.station_id)
                               .order_by(ApiToken.id)).all()
    if not rows:
        click.echo("No API tokens yet; make one with `station token create NAME --role ROLE`.")
        return
    table = [("ID", "NAME", "ROLE", "STATION", "CREATED", "REVOKED")]
    table += [(str(r.id), r.name, TokenRole(r.role).value, r.station or "-", _when(r.created_at),
               _when(r.revoked_at)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@token_group.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def token_revoke_command(token_id: int) -> None:
    """Revoke the API token with this ID (`station token list` shows the ids)."""
    from sqlalchemy import update

    from .. import clock
    from ..models import ApiToken

    with get_db().write() as session:
        # Only a live token is revoked, so revoking twice keeps the first time and says so.
        done = session.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                               .values(revoked_at=clock.now()).execution_options(synchronize_session=False))
        token = session.get(ApiToken, token_id)
        if token is None:
            raise click.ClickException(f"There is no API token {token_id}; `station token list` shows them.")
        name, revoked_at = token.name, token.revoked_at
    if done.rowcount == 0:
        click.echo(f"Token {token_id} ({name}) was already revoked at {_when(revoked_at)}; nothing changed.")
        return
    ttl = current_app.config.get("API_TOKEN_CACHE_SECONDS", 0)
    click.echo(f"Token {token_id} ({name}) revoked. A server that saw it lately accepts it for at most "
               f"{ttl:g} more seconds (STATION_API_TOKEN_CACHE_SECONDS).")


@click.group("operator")
def operator_group() -> None:
    """Operators (badges, roles, PINs)."""


ROLE_CHOICE = click.Choice([r.value for r in Role], case_sensitive=False)


@contextmanager
def _changing():
    """A write transaction whose refusals (services.errors) become clear errors: nothing was changed."""
    from ..services.errors import DomainError

    try:
        with get_db().write() as session:
            yield session
    except DomainError as exc:
        raise click.ClickException(f"{exc.message.rstrip('.')}. Nothing was changed.") from None


@operator_group.command("add")
@click.argument("badge")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the operator may do on the floor.")
@click.option("--pin", default=None, prompt="PIN", prompt_required=False, hide_input=True, confirmation_prompt=True,
              help="A sign-in PIN (4 to 12 digits); give --pin alone to be asked for it. Without it, a "
                   "supervisor or admin sets one at their first sign-in.")
def operator_add_command(badge: str, name: str, role: str, pin: str | None) -> None:
    """Add an operator with BADGE (the number on their badge) and NAME.

    \b
    station operator add 1042 "Ada Lovelace" --role receiver
    station operator add 7 "Grace Hopper" --role admin --pin
    """
    from ..services.operators import ROLE_WORDS, add_operator

    with _changing() as session:
        operator = add_operator(session, badge=badge, name=name, role=role, pin=pin)
        line = (f"Added {operator.name} ({operator.badge}) as {ROLE_WORDS[operator.role]}"
                + (", with a PIN." if pin else "."))
    click.echo(line)


@operator_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the disabled operators.")
def operator_list_command(show_all: bool) -> None:
    """List the operators: badge, name, role, PIN set or not, active (never a PIN or its hash)."""
    from sqlalchemy import select

    from ..models import Operator
    from ..services.operators import ROLE_WORDS

    stmt = select(Operator.badge, Operator.name, Operator.role, Operator.active,
                  Operator.pin_hash.is_not(None).label("has_pin")).order_by(Operator.name, Operator.badge)
    if not show_all:
        stmt = stmt.where(Operator.active.is_(True))
    with get_db().read() as session:
        rows = session.execute(stmt).all()
    if not rows:
        click.echo("No operators yet; add one with `station operator add BADGE NAME --role ROLE`.")
        return
    table = [("BADGE", "NAME", "ROLE", "PIN", "ACTIVE")]
    table += [(r.badge, r.name, ROLE_WORDS[Role(r.role)], "set" if r.has_pin else "-",
               "yes" if r.active else "disabled") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@operator_group.command("set-role")
@click.argument("badge")
@click.argument("role", type=ROLE_CHOICE)
def operator_set_role_command(badge: str, role: str) -> None:
    """Give the operator with BADGE another ROLE; their floor sessions end, so they sign in again under it."""
    from ..services.operators import ROLE_WORDS, operator_by_badge, set_role

    with _changing() as session:
        operator = operator_by_badge(session, badge)
        changed = set_role(session, operator, role)
        name, words = operator.name, ROLE_WORDS[operator.role]
    click.echo(f"{name} ({badge}) is now {words}; they sign in again to work as one." if changed
               else f"{name} ({badge}) is {words} already; nothing changed.")


@operator_group.command("set-pin")
@click.argument("badge")
@click.option("--pin", prompt="New PIN", hide_input=True, confirmation_prompt=True,
              help="The PIN (4 to 12 digits); asked for when not given.")
def operator_set_pin_command(badge: str, pin: str) -> None:
    """Set the sign-in PIN of the operator with BADGE (supervisors and admins need one)."""
    from ..services.operators import operator_by_badge, reset_pin

    with _changing() as session:
        operator = operator_by_badge(session, badge)
        reset_pin(session, operator, pin)
        name = operator.name
    click.echo(f"PIN set for {name} ({badge}).")


@operator_group.command("reset-pin")
@click.argument("badge")
def operator_reset_pin_command(badge: str) -> None:
    """Clear the PIN of the operator with BADGE (forgotten PIN): a supervisor or admin sets a new one at
    their next sign-in, or you set it with `station operator set-pin BADGE`."""
    from ..services.operators import operator_by_badge, reset_pin

    with _changing() as session:
        operator = operator_by_badge(session, badge)
        reset_pin(session, operator, None)
        name = operator.name
    click.echo(f"PIN cleared for {name} ({badge}): they set a new one at their next sign-in.")


@operator_group.command("disable")
@click.argument("badge")
def operator_disable_command(badge: str) -> None:
    """Disable the operator with BADGE: the badge no longer signs in and their floor sessions end now.
    Their name stays on everything they did."""
    from ..services.operators import disable, operator_by_badge

    with _changing() as session:
        operator = operator_by_badge(session, badge)
        was_active, name = operator.active, operator.name
        ended = disable(session, operator)
    if not was_active:
        click.echo(f"{name} ({badge}) was disabled already; nothing changed.")
        return
    click.echo(f"{name} ({badge}) is disabled: {ended} floor session{'s' if ended != 1 else ''} ended.")


@operator_group.command("enable")
@click.argument("badge")
def operator_enable_command(badge: str) -> None:
    """Let the disabled operator with BADGE sign in again."""
    from ..services.operators import enable, operator_by_badge

    with _changing() as session:
        operator = operator_by_badge(session, badge)
        changed = enable(session, operator)
        name = operator.name
    click.echo(f"{name} ({badge}) can sign in again." if changed else f"{name} ({badge}) is active already; "
               "nothing changed.")


def _operator_by_badge(session, badge: str):
    from sqlalchemy import select

    from ..models import Operator

    operator = session.scalar(select(Operator).where(Operator.badge == badge))
    if operator is None:
        raise click.ClickException(f"No operator has badge {badge!r}; nothing was changed.")
    return operator


@operator_group.command("unlock")
@click.argument("badge")
def operator_unlock_command(badge: str) -> None:
    """Clear the PIN lock of the operator with BADGE (and the count of locks in a row)."""
    from ..auth import unlock_pin

    with get_db().read() as session:
        operator = _operator_by_badge(session, badge)
        op_id, name, until = operator.id, operator.name, operator.pin_locked_until
    if unlock_pin(get_db(), op_id):
        click.echo(f"PIN lock cleared for {name} ({badge})" + (f"; it was locked until {_when(until)}." if until
                                                              else "."))
    else:
        click.echo(f"{name} ({badge}) had no PIN lock; nothing changed.")


@operator_group.command("sign-out-everywhere")
@click.argument("badge")
def operator_sign_out_everywhere_command(badge: str) -> None:
    """End every floor session of the operator with BADGE, on every device (a copied or forgotten
    session stops working at its next request)."""
    from ..auth import END_EVERYWHERE, end_operator_sessions

    with get_db().read() as session:
        operator = _operator_by_badge(session, badge)
        op_id, name = operator.id, operator.name
    count = end_operator_sessions(get_db(), op_id, END_EVERYWHERE)
    click.echo(f"{name} ({badge}) signed out everywhere: {count} session{'s' if count != 1 else ''} ended.")


@operator_group.command("locks")
def operator_locks_command() -> None:
    """List the operators whose badge is locked or has wrong PINs counted."""
    from sqlalchemy import or_, select

    from .. import clock
    from ..models import Operator

    now = clock.now()
    with get_db().read() as session:
        rows = session.execute(select(Operator.badge, Operator.name, Operator.pin_failures, Operator.pin_locked_until,
                                      Operator.pin_lock_count)
                               .where(or_(Operator.pin_failures > 0, Operator.pin_lock_count > 0))
                               .order_by(Operator.badge)).all()
    if not rows:
        click.echo("No badge is locked and no wrong PINs are counted.")
    for r in rows:
        until = r.pin_locked_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=now.tzinfo)
        state = f"locked until {_when(until)}" if until is not None and until > now else "not locked"
        click.echo(f"{r.badge}\t{r.name}\t{state}\t{r.pin_failures} wrong PIN(s)\t{r.pin_lock_count} lock(s) in a row")
