"""`station token list` and `station token revoke`, on SQLite and PostgreSQL: the list never shows a
secret or a hash; a revoked token is refused by the API (at once with the token cache at 0, and
within STATION_API_TOKEN_CACHE_SECONDS otherwise); revoking twice says so and changes nothing. An agent
token (`--role agent --station NAME`) is bound to an existing station and listed with it; a station is
refused for any other role, and an agent without one or with an unknown one is refused in words, with
nothing stored."""
from __future__ import annotations

from sqlalchemy import select

from station.agent import AGENT_SCANNER_URL
from station.models import ApiToken, Role, StationDevice, TokenRole
from station.services.tokens import create_token, hash_token

ITEMS = "/api/v1/items"


def _invoke(app, *args):
    runner = app.test_cli_runner()
    with app.app_context():
        return runner.invoke(args=list(args))


def _make(app, name: str, role: Role) -> tuple[int, str]:
    with app.extensions["station.db"].write() as s:
        secret = create_token(s, name, role)
        s.flush()
        return s.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(secret))), secret


def test_list_shows_each_token_without_its_secret(app):
    assert "No API tokens yet" in _invoke(app, "token", "list").output
    first, secret1 = _make(app, "dock agent", Role.RECEIVER)
    second, secret2 = _make(app, "erp", Role.SUPERVISOR)
    result = _invoke(app, "token", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "NAME", "ROLE", "STATION", "CREATED", "REVOKED"]
    assert lines[1].split()[:5] == [str(first), "dock", "agent", "receiver", "-"]
    assert lines[1].endswith("-") and " UTC" in lines[1]
    assert lines[2].split()[:4] == [str(second), "erp", "supervisor", "-"]
    for secret in (secret1, secret2):
        assert secret not in result.output and hash_token(secret) not in result.output
        assert secret[4:20] not in result.output


def test_a_revoked_token_is_refused(app, client):
    app.config["API_TOKEN_CACHE_SECONDS"] = 0
    token_id, secret = _make(app, "scanner", Role.PICKER)
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get(ITEMS, headers=auth).status_code == 200
    result = _invoke(app, "token", "revoke", str(token_id))
    assert result.exit_code == 0, result.output
    assert f"Token {token_id} (scanner) revoked." in result.output
    refused = client.get(ITEMS, headers=auth)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"
    listed = _invoke(app, "token", "list").output.splitlines()[1]
    assert listed.count(" UTC") == 2  # created and revoked


def test_a_cached_token_works_at_most_the_cache_time(app, client):
    """With a cache, a process that checked the token lately keeps accepting it until its entry
    expires; the entry is aged here rather than waited for."""
    import time

    app.config["API_TOKEN_CACHE_SECONDS"] = 60
    token_id, secret = _make(app, "cached", Role.RECEIVER)
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get(ITEMS, headers=auth).status_code == 200
    assert _invoke(app, "token", "revoke", str(token_id)).exit_code == 0
    assert client.get(ITEMS, headers=auth).status_code == 200  # still in this process's cache
    seen = app.extensions["station.tokens"]
    expires, caller = seen[secret]
    assert expires <= time.monotonic() + 60
    seen[secret] = (time.monotonic() - 0.001, caller)  # the cache time has passed
    assert client.get(ITEMS, headers=auth).status_code == 401


def test_revoking_twice_says_so_and_keeps_the_first_time(app):
    token_id, _ = _make(app, "old agent", Role.RECEIVER)
    assert _invoke(app, "token", "revoke", str(token_id)).exit_code == 0
    with app.extensions["station.db"].read() as s:
        first = s.get(ApiToken, token_id).revoked_at
    again = _invoke(app, "token", "revoke", str(token_id))
    assert again.exit_code == 0
    assert f"Token {token_id} (old agent) was already revoked at" in again.output
    assert "nothing changed" in again.output
    with app.extensions["station.db"].read() as s:
        assert s.get(ApiToken, token_id).revoked_at == first


def test_revoking_an_unknown_token_says_so(app):
    result = _invoke(app, "token", "revoke", "999")
    assert result.exit_code != 0
    assert "There is no API token 999" in result.output
    bad = _invoke(app, "token", "revoke", "dock")
    assert bad.exit_code != 0 and "is not a valid integer" in bad.output


# --- agent tokens: bound to one station --------------------------------------------------------------


def _tokens(app) -> list[tuple[str, TokenRole, int | None]]:
    with app.extensions["station.db"].read() as s:
        return [(t.name, TokenRole(t.role), t.station_id) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]


def _station(app, name: str, scanner_url: str | None = AGENT_SCANNER_URL) -> int:
    with app.extensions["station.db"].write() as s:
        row = StationDevice(name=name, scanner_url=scanner_url)
        s.add(row)
        s.flush()
        return row.id


def test_an_agent_token_is_bound_to_its_station_and_listed_with_it(app, client):
    station_id = _station(app, "Dock PC")
    result = _invoke(app, "token", "create", "dock pc agent", "--role", "agent", "--station", "Dock PC")
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith("stn_") and len(secret.splitlines()) == 1
    assert _tokens(app) == [("dock pc agent", TokenRole.AGENT, station_id)]
    listed = _invoke(app, "token", "list").output.splitlines()
    assert listed[0].split() == ["ID", "NAME", "ROLE", "STATION", "CREATED", "REVOKED"]
    assert listed[1].split()[:6] == ["1", "dock", "pc", "agent", "agent", "Dock"]
    assert listed[1].split()[6] == "PC"
    # The secret works for its station's scans, and for nothing else.
    auth = {"Authorization": f"Bearer {secret}"}
    posted = client.post("/api/v1/scans", json={"station": "Dock PC", "client_id": "agent-cli-0001",
                                                "code": "LOT:NOPE"}, headers=auth)
    assert posted.status_code == 201, posted.get_json()
    assert client.get(ITEMS, headers=auth).status_code == 403


def test_an_agent_token_needs_a_station_that_exists(app):
    _station(app, "Dock PC")
    missing = _invoke(app, "token", "create", "agent", "--role", "agent")
    assert missing.exit_code != 0
    assert "An agent token is bound to one station: name it with --station" in missing.output
    assert "No token was made." in missing.output
    unknown = _invoke(app, "token", "create", "agent", "--role", "agent", "--station", "Dock 9")
    assert unknown.exit_code != 0
    assert "There is no station 'Dock 9'; the stations are: Dock PC." in unknown.output
    assert "stn_" not in missing.output + unknown.output
    assert _tokens(app) == []


def test_a_station_is_refused_for_an_operator_token(app):
    _station(app, "Dock PC")
    result = _invoke(app, "token", "create", "erp", "--role", "supervisor", "--station", "Dock PC")
    assert result.exit_code != 0
    assert "Only an agent token is bound to a station; a supervisor token may not be" in result.output
    assert _tokens(app) == []
    bad = _invoke(app, "token", "create", "x", "--role", "superuser")
    assert bad.exit_code != 0 and "'superuser' is not one of" in bad.output
    assert _tokens(app) == []


def test_the_database_refuses_an_agent_token_without_a_station(app):
    """The schema's own check (migration 0010) backs up the CLI: no agent token without a station."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with app.extensions["station.db"].write() as s:
            s.add(ApiToken(name="raw", role=TokenRole.AGENT, token_hash=hash_token("stn_raw")))
    assert _tokens(app) == []
