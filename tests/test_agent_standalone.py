"""The scanner agent runs on a station PC that needs no web app: `import station.agent` and
`python -m station.agent` load no Flask, SQLAlchemy, Werkzeug or Jinja (each checked in a fresh
interpreter, since this test process has them all loaded already)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = "{'flask', 'sqlalchemy', 'werkzeug', 'jinja2'}"
LOADED_WEB = f"sorted(m for m in sys.modules if m.split('.')[0] in {WEB})"


def _python(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_importing_the_agent_loads_no_web_framework():
    done = _python("-c", f"import station.agent, sys; print({LOADED_WEB})")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_python_m_station_agent_help():
    done = _python("-m", "station.agent", "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: python -m station.agent [OPTIONS]" in done.stdout
    for option in ("--server", "--station", "--scanner", "--spool", "--token-file"):
        assert option in done.stdout


def test_python_m_station_agent_runs_its_command_without_flask(tmp_path):
    """Run as __main__ with no token: the same refusal as `station scanner-agent` (usage error, exit 2),
    and still nothing of the web app loaded."""
    env = {k: v for k, v in os.environ.items() if k != "STATION_AGENT_TOKEN"}
    code = ("import runpy, sys\n"
            "sys.argv = ['station.agent', '--server', 'http://127.0.0.1:1', '--station', 'Dock 1',\n"
            "            '--scanner', 'sim://standalone', '--spool', sys.argv[1]]\n"
            "try:\n"
            "    runpy.run_module('station.agent', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as exc:\n"
            f"    print(exc.code, {LOADED_WEB})\n")
    done = _python("-c", code, str(tmp_path / "spool"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 []"
    assert "no API token: set STATION_AGENT_TOKEN or give --token-file" in done.stderr
