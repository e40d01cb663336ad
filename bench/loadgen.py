"""Drive a server with wrk (a maintained C load generator), so the client never competes with
the server for the interpreter: a fixed number of POSTs of one body, over N keep-alive
connections, every answer checked for the text that marks success.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "lua" / "post.lua"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int  # answers not 200 or lacking the expected text, and socket errors
    graphql_errors: int = 0  # answers carrying a GraphQL `errors` key

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def arguments(
    doc: str | None, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The options every load benchmark takes (its docstring's first line describes it), and
    those `extra` adds."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    if extra is not None:
        extra(parser)
    parsed = parser.parse_args()
    require_wrk()
    return parsed


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed: apt-get install wrk (Debian) or brew install wrk")
    return wrk


def post(
    url: str,
    body: Any,
    *,
    expect: str,
    connections: int,
    requests: int,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """POST `body` (JSON) `requests` times over `connections` connections, with `headers`."""
    threads = min(connections, 2)
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as body_file:
        body_file.write(json.dumps(body).encode())
        body_file.flush()
        env = {
            **os.environ,
            "BENCH_BODY_FILE": body_file.name,
            "BENCH_EXPECT": expect,
            "BENCH_REQUESTS_PER_THREAD": str(max(1, requests // threads)),
            "BENCH_HEADERS": "\n".join(
                f"{name}: {value}" for name, value in (headers or {}).items()
            ),
        }
        wrk = subprocess.Popen(
            [require_wrk(), "-t", str(threads), "-c", str(connections), "-d", "600s",
             "--timeout", "30s", "-s", str(SCRIPT), url],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert wrk.stdout is not None
        finished = 0
        for line in wrk.stdout:
            finished += line.strip() == "thread-done"
            if finished == threads:
                break
        wrk.send_signal(signal.SIGINT)
        output, _ = wrk.communicate(timeout=60)
    summary = json.loads(output.strip().splitlines()[-1])
    return LoadResult(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        failures=summary["failures"] + summary["socket_errors"],
        graphql_errors=summary["graphql_errors"],
    )
