"""`station token list` and `station token revoke`, on SQLite and PostgreSQL: the list never shows a
secret or a hash; a revoked token is refused by the API (at once with the token cache at 0, and
within STATION_API_TOKEN_CACHE_SECONDS otherwise); revoking twice says so and changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from station.models import ApiToken, Role
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
    assert lines[0].split() == ["ID", "NAME", "ROLE", "CREATED", "REVOKED"]
    assert lines[1].split()[:4] == [str(first), "dock", "agent", "receiver"]
    assert lines[1].endswith("-") and " UTC" in lines[1]
    assert lines[2].split()[:3] == [str(second), "erp", "supervisor"]
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
