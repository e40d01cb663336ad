"""Servers for the benchmarks, each a real process on a loopback port.

`livechat-graphql serve` in either mode, and the fixed-answer upstream; each is started, waited
for (until it answers), and stopped when its `with` block ends.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NotServing(RuntimeError):
    """A server that exited or never answered; its message ends with what it said last, so a
    configuration the server refuses (e.g. a setting another build accepts) reads as such."""


def wait_until_answering(process: subprocess.Popen[bytes], url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise NotServing(f"{url} did not come up")
        time.sleep(0.02)


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    spawned_at: float  # time.perf_counter() when the process was spawned

    def resident_bytes(self) -> int:
        """Resident memory of the server and its worker processes (Linux /proc)."""
        pids = [self.process.pid, *_descendants(self.process.pid)]
        return sum(_resident(pid) for pid in pids)

    def peak_resident_bytes(self) -> int:
        """The high-water mark of resident memory (VmHWM) of each of its processes, summed."""
        pids = [self.process.pid, *_descendants(self.process.pid)]
        return sum(_resident(pid, "VmHWM:") for pid in pids)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server and its worker processes so far (Linux)."""
        pids = [self.process.pid, *_descendants(self.process.pid)]
        return sum(cpu_of(pid) for pid in pids)


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _resident(pid: int, field: str = "VmRSS:") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def running(
    command: list[str],
    health_path: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Run `command` (which must take `--port`) in `cwd` and yield it once it answers."""
    port = free_port()
    began = time.perf_counter()
    # what it says on stderr, read if it does not come up
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**os.environ, "LIVECHAT_GRAPHQL_LOG_LEVEL": "WARNING", **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # its own process group: workers and forks are stopped too
            cwd=cwd,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_answering(process, base_url + health_path)
            except NotServing as failure:
                errors.seek(0)
                said = errors.read().decode(errors="replace").strip().splitlines() or ["(none)"]
                reasons = [line.strip() for line in said if re.search(r"\berror\b[,:]", line)]
                raise NotServing(f"{failure}: {(reasons or said)[-1]}") from None
            yield Server(base_url, process, began)
        finally:
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
            process.wait(timeout=15)


def livechat_graphql(
    *arguments: str, env: dict[str, str] | None = None, source: Path | None = None
) -> AbstractContextManager[Server]:
    """`livechat-graphql serve ARGUMENTS...`, from the checkout at `source` if given (its `app`
    package is imported first, since `python -m` puts the working directory first on the path)."""
    command = [sys.executable, "-m", "app.cli", "serve", *arguments]
    return running(command, "/healthz", env, cwd=source)


def fixed_upstream() -> AbstractContextManager[Server]:
    """The raw ASGI app in bench/fixed_upstream.py, answering Rocket.Chat's example bodies."""
    return running([sys.executable, str(BENCH / "fixed_upstream.py")], "/api/info")
