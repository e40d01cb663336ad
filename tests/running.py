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
