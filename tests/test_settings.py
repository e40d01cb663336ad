"""Settings: worker processes, and how workers receive the parent's configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_the_in_process_backend_refuses_several_workers() -> None:
    with pytest.raises(ValidationError, match="one writer"):
        Settings(backend="inprocess", workers=2)


def test_workers_default_to_one_in_process_and_one_per_cpu_upstream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert Settings().worker_count() == 1
    assert Settings(backend="upstream", upstream_url="http://rc").worker_count() == 2
    assert Settings(backend="upstream", upstream_url="http://rc", workers=3).worker_count() == 3


def test_a_worker_reads_back_exactly_the_parent_s_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A private copy of the environment, put back afterwards, without our variables in it.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIVECHAT_GRAPHQL_")}
    monkeypatch.setattr(os, "environ", environment)
    parent = Settings(
        backend="upstream",
        upstream_url="http://127.0.0.1:3000",
        database=tmp_path / "x.db",
        workers=2,
        forward_headers=["X-Auth-Token"],
        markdown_custom_domains=["example.internal"],
        production=True,
        upstream_read_timeout=2.5,
    )
    parent.export_to_environment()
    assert environment["LIVECHAT_GRAPHQL_FORWARD_HEADERS"] == '["X-Auth-Token"]'
    assert Settings() == parent


def test_trusted_proxies_are_addresses_or_networks_read_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVECHAT_GRAPHQL_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.1", "::1"]')
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.0.2.1", "::1"]
    assert Settings(trusted_proxies=[]).trusted_proxies == []
    with pytest.raises(ValidationError, match=r"'proxy\.example' is not an IP address or CIDR"):
        Settings(trusted_proxies=["proxy.example"])
