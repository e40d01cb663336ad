"""`/readyz` says whether the backend can serve now; `/healthz` only that the process is up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from app.main import create_app
from app.settings import Settings
from tests.servers import free_port, serving


def test_in_process_is_ready_while_its_database_takes_writes(tmp_path: Path) -> None:
    database = tmp_path / "livechat.db"
    with serving(create_app(Settings(database=database))) as url:
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "backend": "inprocess"}

        other_process = sqlite3.connect(database, isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            blocked = httpx.get(f"{url}/readyz", timeout=30)
            assert httpx.get(f"{url}/healthz").status_code == 200
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        assert blocked.status_code == 503
        assert blocked.json()["status"] == "unavailable"
        assert "took no write within 2 s" in blocked.json()["reason"]
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200


def test_upstream_is_ready_only_while_the_upstream_answers(tmp_path: Path) -> None:
    rocketchat = create_app(Settings(database=tmp_path / "rocketchat.db"))
    with serving(rocketchat) as upstream:
        facade = create_app(
            Settings(backend="upstream", upstream_url=upstream, database=tmp_path / "unused.db")
        )
        with serving(facade) as url:
            assert httpx.get(f"{url}/readyz").status_code == 200
    nobody = f"http://127.0.0.1:{free_port()}"
    facade = create_app(
        Settings(backend="upstream", upstream_url=nobody, database=tmp_path / "unused.db")
    )
    with serving(facade) as url:
        down = httpx.get(f"{url}/readyz")
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert down.status_code == 503
    assert down.json() == {
        "status": "unavailable",
        "backend": "upstream",
        "reason": "the upstream does not answer: the upstream server is unreachable",
    }
