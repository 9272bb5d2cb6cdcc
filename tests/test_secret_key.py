"""No forged sessions (issue 13, point 1): Station never signs cookies with a known or empty key.

Without STATION_SECRET_KEY a random key is made in the instance folder on first start (secret_key,
mode 0600, created whole, so processes starting together agree) and read after; a key file others may
read, or one too short, stops the start; an example or development key, or one under 32 characters,
stops the start in words. A cookie signed with the old default key ("dev-only-change-me") is no admin
on a real `station run` — and even with the server's own key, a cookie that names an operator (rather
than an open floor session) signs nobody in."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from flask import Flask

from station import create_app
from station.config import (KNOWN_SECRET_KEYS, SECRET_KEY_FILE, ConfigError, check_secret_key,
                            instance_secret_key, secret_key)
from station.models import Operator, Role
from test_server import STATION, free_port, wait_for

OLD_DEFAULT = "dev-only-change-me"


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "STATION_SECRET_KEY"}
    env.update(STATION_INSTANCE=str(tmp_path / "instance"),
               STATION_DATABASE_URL=f"sqlite:///{tmp_path / 'station.db'}", **extra)
    return env


def forged_cookie(key: str, state: dict) -> str:
    """A Flask session cookie carrying `state`, signed with `key` exactly as Flask signs one."""
    app = Flask("forger")
    app.secret_key = key
    return app.session_interface.get_signing_serializer(app).dumps(state)


# --- the key file ------------------------------------------------------------------------------------


def test_without_a_key_one_is_made_in_the_instance_folder_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("STATION_SECRET_KEY", raising=False)
    folder = tmp_path / "instance"
    key = secret_key(folder)
    path = folder / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 43 and key not in KNOWN_SECRET_KEYS and key == path.read_text().strip()
    assert secret_key(folder) == key  # read, not made again
    assert secret_key(tmp_path / "elsewhere") != key  # random: each instance folder its own
    assert not [p for p in folder.iterdir() if p.name != SECRET_KEY_FILE]  # no temporary file left


def test_the_app_signs_with_the_instance_key(tmp_path, monkeypatch):
    monkeypatch.delenv("STATION_SECRET_KEY", raising=False)
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    try:
        assert app.secret_key == (tmp_path / "instance" / SECRET_KEY_FILE).read_text().strip()
        assert app.secret_key != OLD_DEFAULT
    finally:
        app.extensions["station.db"].dispose()


def test_processes_starting_together_agree_on_one_key(tmp_path):
    folder = tmp_path / "instance"
    code = "import sys; from station.config import instance_secret_key; print(instance_secret_key(sys.argv[1]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert keys == {(folder / SECRET_KEY_FILE).read_text().strip()}


def test_a_key_file_others_may_read_or_a_short_one_is_refused(tmp_path):
    folder = tmp_path / "instance"
    instance_secret_key(folder)
    path = folder / SECRET_KEY_FILE
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="can be read by other users.*chmod 600"):
        instance_secret_key(folder)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="mode 0640"):
        instance_secret_key(folder)
    path.write_text("too-short\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="at least 32"):
        instance_secret_key(folder)
    path.write_text("")
    with pytest.raises(ConfigError, match="0 characters"):
        instance_secret_key(folder)


@pytest.mark.parametrize("key", [OLD_DEFAULT, "change-me", "CHANGE-ME", "x" * 31,
                                 "please-change-me-please-change-me-1234"])
def test_example_development_and_short_keys_are_refused(key):
    with pytest.raises(ConfigError, match="STATION_SECRET_KEY"):
        check_secret_key(key)


def test_an_empty_variable_means_unset_a_good_one_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("STATION_SECRET_KEY", "")
    made = secret_key(tmp_path / "a")
    assert (tmp_path / "a" / SECRET_KEY_FILE).exists() and len(made) >= 32
    good = "k" * 20 + "0123456789abcdefghijklmnop"
    monkeypatch.setenv("STATION_SECRET_KEY", good)
    assert secret_key(tmp_path / "b") == good and not (tmp_path / "b").exists()


@pytest.mark.parametrize("key, words", [
    (OLD_DEFAULT, "is an example or development value"),
    ("change-me", "is an example or development value"),  # deploy/systemd/station.env.example, before
    ("short-but-random-9f3a", "needs at least 32"),
])
def test_station_run_refuses_a_known_or_short_key_in_words(tmp_path, key, words):
    port = free_port()
    done = subprocess.run([STATION, "run", "--port", str(port), "--no-scanners", "--no-print-worker"],
                          env=_env(tmp_path, STATION_SECRET_KEY=key), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.startswith("station: cannot start: STATION_SECRET_KEY is ")
    assert words in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(OSError):  # nothing listens
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_the_env_example_ships_no_key():
    from station.config import ROOT

    lines = (ROOT / "deploy/systemd/station.env.example").read_text().splitlines()
    assert not [line for line in lines if line.startswith("STATION_SECRET_KEY=") and line.split("=", 1)[1]]


# --- a forged cookie against a real server -------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(port: int, path: str, cookie: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"session={cookie}"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location") or ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location") or ""


def test_a_cookie_signed_with_the_old_default_key_is_no_admin_on_a_real_server(tmp_path):
    env = _env(tmp_path)
    subprocess.run([STATION, "init"], env=env, check=True, capture_output=True)
    from station.db import Database

    db = Database(env["STATION_DATABASE_URL"])
    with db.write() as s:
        admin = Operator(badge="ADM-1", name="Ada Admin", role=Role.ADMIN)
        s.add(admin)
        s.flush()
        admin_id = admin.id
    db.dispose()
    port = free_port()
    log = open(tmp_path / "server.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([STATION, "run", "--port", str(port), "--no-scanners", "--no-print-worker"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                return _get(port, "/", "")[0] == 200
            except OSError:
                return proc.poll() is not None
        wait_for(up, timeout=30, what="station run")
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        key_file = tmp_path / "instance" / SECRET_KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # made by the server on its first start

        now = int(time.time())
        # The session the code before issue 13 kept in the cookie ({"op", "at"}), signed with the old default.
        forged = forged_cookie(OLD_DEFAULT, {"floor": {"op": admin_id, "at": now}})
        for path in ("/operators", "/printers/settings", "/setup", "/lots"):
            status, location = _get(port, path, forged)
            assert status == 302 and location.startswith("/signin"), (path, status, location)
        # A made-up floor session secret, with the old key: no such session.
        forged = forged_cookie(OLD_DEFAULT, {"floor": {"s": "A" * 43}})
        assert _get(port, "/setup", forged)[0] == 302
        # Even with the server's own key (read from its file): a cookie that names an operator is no
        # session — only a floor_sessions row made by signing in is.
        own = key_file.read_text().strip()
        for state in ({"floor": {"op": admin_id, "at": now}}, {"floor": {"s": "B" * 43}}):
            status, location = _get(port, "/setup", forged_cookie(own, state))
            assert status == 302 and location.startswith("/signin"), (state, status)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
