"""bench/uploads.py runs as README says and every upload it makes succeeds (tiny sizes: its
figures come from running it in full, never from the test suite)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_the_upload_benchmark_prints_its_tables() -> None:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "uploads.py"),
         "--clients", "2", "--megabytes", "2", "--refused-megabytes", "104"],
        capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    rows = [line for line in finished.stdout.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows if "---" not in row] == [
        "| backend", "| in-process", "| in-process", "| upstream", "| upstream",
        "| refused upload (in-process)", "| 104 MiB over 100 MiB",
    ]  # fmt: skip
