"""The benchmark scripts run as README says and every request they make succeeds (with tiny
counts: figures come from running them in full, never from the test suite)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs wrk (Debian's wrk package; .ci/run installs it)"
)


def table_rows(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.mark.parametrize(
    ("script", "arguments", "rows"),
    [
        ("facade.py", ["--requests", "40", "--concurrency", "1", "4"], 4),
        ("inprocess.py", ["--requests", "40", "--concurrency", "1", "4"], 4),
        ("startup.py", ["--sends", "40", "--starts", "1"], 2),
        ("widget.py", ["--requests", "20"], 5),
        (
            "realtime.py",
            shlex.split(
                "--subscriptions 20 --rooms 4 --rate 20 --seconds 1 "
                "--upstream-subscriptions 4 --compare-subscriptions 8"
            ),
            4,
        ),
    ],
)
def test_a_benchmark_prints_its_table_with_nothing_failed(
    script: str, arguments: list[str], rows: int
) -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    table = table_rows(finished.stdout)
    assert len(table) == rows, finished.stdout
    for row in table:
        assert row[-1] == "0", f"failed requests in {row}"
        assert all(cell for cell in row), row
