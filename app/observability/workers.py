"""Several worker processes counted as one server: prometheus_client's multiprocess mode.

prometheus_client decides where values live when it is first imported: in memory, or, when
PROMETHEUS_MULTIPROC_DIR names a directory, in a file per process there, which a scrape of any
process reads whole (`Metrics.exposition`). So the supervisor sets the variable before it starts
its workers, and a server of one process clears it before anything imports prometheus_client:
its registry stays in memory whatever the environment held (stale files of another run in a
directory someone exported would otherwise be counted as this server's).

Nothing here imports prometheus_client at module level, since that import fixes the choice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The name prometheus_client read before, and still honours.
_OLD_MULTIPROCESS_DIR = "prometheus_multiproc_dir"


def in_memory() -> None:
    """Values in this process's memory, for a server of one process."""
    for name in (MULTIPROCESS_DIR, _OLD_MULTIPROCESS_DIR):
        os.environ.pop(name, None)


@contextmanager
def shared_by_workers(metrics: bool) -> Iterator[Callable[[int], None]]:
    """With `metrics`, a fresh private directory (mode 0700, under TMPDIR) as
    PROMETHEUS_MULTIPROC_DIR for the workers started in the block, which inherit the
    environment; removed after it, so no run counts another's. Yields what to call with a
    worker's pid once it has exited: its live gauge (open subscriptions) stops
    counting, while its counters and histograms stay in the totals, since the server did serve
    those requests."""
    in_memory()
    if not metrics:
        yield lambda pid: None
        return
    from prometheus_client import multiprocess

    directory = tempfile.mkdtemp(prefix="livechat-graphql-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory

    def exited(pid: int) -> None:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]

    try:
        yield exited
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)
