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


def tables(output: str) -> list[list[list[str]]]:
    """Each markdown table the script printed, as rows of cells (header and rule left out)."""
    found: list[list[list[str]]] = []
    lines: list[str] = []
    for line in [*output.splitlines(), ""]:
        if line.startswith("| "):
            lines.append(line)
        elif lines:
            found.append(table_rows("\n".join(lines)))
            lines = []
    return found


def run_facade(*arguments: str) -> str:
    finished = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "facade.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return finished.stdout


def test_side_by_side_measures_each_cell_with_no_failure_and_no_graphql_error() -> None:
    node = shutil.which("node") is not None and shutil.which("npm") is not None
    peers = ["--against-yoga"] if node else ["--side-by-side"]
    output = run_facade(
        *peers, *shlex.split("--requests 30 --concurrency 2 --rounds 3 --processes 1")
    )
    cells, ratios = tables(output)
    expected = {"ours 1w", "deployed 1w", "REST"} | ({"Yoga 1"} if node else set())
    for workload in ("flat", "full"):
        for round_ in ("1", "2", "3", "all"):
            rows = {row[3]: row for row in cells if row[:2] == [round_, workload]}
            assert set(rows) == expected, output
            for name, row in rows.items():
                per_second, p50, p99, cpu, peak = (float(cell) for cell in row[4:9])
                assert per_second > 0 and 0 < p50 <= p99 and cpu >= 0 and peak > 0, row
                assert row[9:] == ["0", "0"], f"{name}: non-2xx or GraphQL errors in {row}"
        # Pooled: all requests over all seconds lies within the rounds' own rates.
        for name in expected:
            rates = [float(r[4]) for r in cells if r[1:4] == [workload, "2", name]]
            assert min(rates) - 1 <= rates[-1] <= max(rates) + 1, (name, rates)
    # Each round's ratios, their medians, then the ratios of the pooled cells.
    assert [row[:2] for row in ratios] == [
        *([str(round_), workload] for round_ in (1, 2, 3) for workload in ("flat", "full")),
        ["median", "flat"], ["median", "full"], ["all", "flat"], ["all", "full"],
    ]  # fmt: skip
    assert all(float(ratio) > 0 for row in ratios for ratio in row[3:]), ratios
    for median, workload in zip(ratios[-4:-2], ("flat", "full"), strict=True):
        rounds = [row for row in ratios[:-4] if row[1] == workload]
        for column, value in enumerate(median[3:], start=3):
            assert sorted(float(row[column]) for row in rounds)[1] == float(value), ratios
    for pooled, workload in zip(ratios[-2:], ("flat", "full"), strict=True):
        rate = {r[3]: float(r[4]) for r in cells if r[:2] == ["all", workload]}
        deployed_over_bare = rate["deployed 1w"] / rate["ours 1w"]
        assert abs(float(pooled[3]) - deployed_over_bare) <= 0.01 + 0.005, (pooled, rate)


def test_the_visitor_journey_completes_every_journey_without_an_error() -> None:
    output = run_facade(*shlex.split("--journey --visitors 1 2 --journeys 2 --processes 1"))
    (rows,) = tables(output)
    assert [row[:2] for row in rows] == [
        ["1", "ours 1w"], ["2", "ours 1w"], ["1", "deployed 1w"], ["2", "deployed 1w"]
    ], output  # fmt: skip
    for row in rows:
        assert row[2] == "2" and float(row[3]) > 0, row  # every journey done
        assert all(float(p50) > 0 for p50 in row[5:11]), row  # each step kind answered
        assert row[-2:] == ["0", "0"], f"non-2xx or GraphQL errors in {row}"
