"""`livechat-graphql serve` as a real process, for tests that must kill or load it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


class ServerProcess:
    def __init__(
        self,
        database: Path,
        *arguments: str,
        environment: dict[str, str] | None = None,
        log: Path | None = None,
        output: Path | None = None,
    ) -> None:
        self.database = database
        self.arguments = arguments
        self.environment = environment or {}
        self.log = log
        self.output = output
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and wait for its /healthz; its stderr goes to `log` and its stdout
        to `output`, if given."""
        log = None if self.log is None else self.log.open("wb")
        output = None if self.output is None else self.output.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port),
             "--database", str(self.database), *self.arguments],
            env={**os.environ, "LIVECHAT_GRAPHQL_LOG_LEVEL": "WARNING", **self.environment},
            stdout=subprocess.DEVNULL if output is None else output,
            stderr=subprocess.DEVNULL if log is None else log,
        )  # fmt: skip
        for file in (log, output):
            if file is not None:
                file.close()  # the child holds its own copy
        deadline = time.monotonic() + 120  # imports take long on a busy machine
        while True:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash or the OOM killer would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as a container runtime stops a service; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def workers_of(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [
        child
        for child in children
        if b"multiprocessing" in Path(f"/proc/{child}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def established_on(port: int) -> dict[int, int]:
    """Socket inode -> remote port, for connections accepted on `port` (IPv4 loopback)."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state == "01" and int(local.split(":")[1], 16) == port:
            found[inode] = int(remote.split(":")[1], 16)
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_on(port: int) -> int:
    """Sockets listening on `port` (IPv4): one per worker that has started serving."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        count += fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port
    return count


def worker_serving(workers: list[int], port: int, client_port: int) -> int:
    """Which of `workers` holds the connection a client made to `port` from `client_port`."""
    inodes = {inode for inode, remote in established_on(port).items() if remote == client_port}
    (worker,) = [pid for pid in workers if socket_inodes(pid) & inodes]
    return worker
