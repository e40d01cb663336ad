"""apollo-upload-client, as a frontend sends files, on both backends: the upload, the file
message on the room's subscription, the download (tests/clients/apollo/upload.test.mjs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.main import create_app
from app.settings import Settings
from tests.helpers import NPM, ROOT, npm_ci
from tests.servers import serving

PROJECT = ROOT / "tests" / "clients" / "apollo"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or NPM is None, reason="needs Node 20 and npm on PATH"
)


@pytest.fixture(params=["in-process", "upstream"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "upstream":
        url: str = request.getfixturevalue("upstream_url")
        yield url
        return
    with serving(create_app(Settings(database=tmp_path / "uploads.db"))) as url:
        yield url


def test_apollo_upload_client_sends_a_screenshot_that_arrives_on_the_subscription(
    server: str,
) -> None:
    npm_ci(PROJECT)
    done = subprocess.run(
        ["node", "--test", "upload.test.mjs"],
        cwd=PROJECT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SERVER_URL": server},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 1" in done.stdout
