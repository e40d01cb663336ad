"""What documents cost the server: the history page, the worst document, and document floods.

    python bench/documents.py [--probes history repeats worst distinct apq] [--baseline CHECKOUT]
        [--pages 3] [--distinct 800] [--distinct-kb 400] [--apq 500] [--apq-kb 990]

Each probe runs on a fresh in-process server (`livechat-graphql serve`, its own SQLite file);
with `--baseline CHECKOUT` (another checkout of this project) the same probe runs on a server of
that checkout too, one after the other, so a table compares both builds in one run. Figures are
the server's own: CPU seconds from /proc (all it did for the probe's requests) and resident
memory, before and after.

- history: a room of 100 messages of `"@a " * 1666` (4,998 characters, 1,666 mentions each,
  what any visitor may send), then the shipped `livechatMessages` at `limit: 100`, `--pages`
  times: the first request's CPU (it parses, validates and plans the document), the median of
  the others, the answer's bytes.
- repeats: on the same room, 400 `u { id }` in one selection (within every other limit before
  the field-repeat limit): its CPU (validation, then execution if it runs).
- worst: on the same room, ten aliased `livechatMessages(limit: 100)` with the shipped
  fragments: its CPU, what the client gets, the answer's bytes.
- distinct: `--distinct` valid documents of `--distinct-kb` KB each, every one different (a
  number in a comment), padded with comments (which are not tokens): resident memory growth.
- apq: `--apq` documents of `--apq-kb` KB registered as automatic persisted queries:
  resident memory growth.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import operations
import processes

MIB = 1024 * 1024
TOKEN = "bench"
MESSAGE = "@a " * 1666
HISTORY = "livechatMessages"


def document(root: Path, name: str) -> str:
    """The shipped operation `name` with every fragment file, from the checkout at `root`."""
    queries = root / "queries"
    return (queries / f"{name}.graphql").read_text() + "\n".join(
        path.read_text() for path in sorted((queries / "fragments").glob("*.graphql"))
    )


def ten_pages(root: Path) -> str:
    page = (
        "... on LivechatMessagesSuccess { messages { ...MessageFields } hasMore } "
        "...LivechatErrorFields"
    )
    fields = " ".join(
        f"p{index}: livechatMessages(token: $token, rid: $rid, limit: 100) {{ {page} }}"
        for index in range(10)
    )
    fragments = "\n".join(
        path.read_text() for path in sorted((root / "queries" / "fragments").glob("*.graphql"))
    )
    return f"query Pages($token: String!, $rid: ID!) {{ {fields} }}\n{fragments}"


def padded(number: int, size: int) -> str:
    """A valid document of about `size` characters, distinct by `number`: one long comment and
    whitespace (graphql-core counts each comment as a token, but not its length)."""
    head = f'query Padded{number} {{ livechatMessages(token: "t", rid: "r") {{ __typename }} }}\n'
    room = max(0, size - len(head) - 3)
    return head + "# " + "padding " * (room // 16) + "\n" + " " * (room // 2)


def full_room(url: str) -> str:
    rid = operations.open_room(url, TOKEN)
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(100):
            sent = client.post(
                "/api/v1/livechat/message", json={"token": TOKEN, "rid": rid, "msg": MESSAGE}
            )
            assert sent.status_code == 200, sent.text
    return rid


def timed(server: processes.Server, client: httpx.Client, body: Any) -> tuple[float, bytes]:
    """The server's CPU seconds for one POST /graphql, and the answer."""
    before = server.cpu_seconds()
    answer = client.post("/graphql", json=body)
    return server.cpu_seconds() - before, answer.content


def what_it_got(answer: bytes) -> str:
    if b'"errors"' not in answer[:200] and not answer.startswith(b'{"data":null,"errors"'):
        return "data"
    code = answer.split(b'"code":"', 1)[1].split(b'"', 1)[0].decode()
    return f"error {code}"


def history_and_worst(label: str, root: Path, probes: list[str], pages: int) -> list[list[str]]:
    rows = []
    with (
        tempfile.TemporaryDirectory() as directory,
        processes.livechat_graphql(
            "--database", str(Path(directory) / "bench.db"), source=root
        ) as server,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        rid = full_room(server.url)
        variables = {"token": TOKEN, "rid": rid, "limit": 100}
        if "history" in probes:
            body = {"query": document(root, HISTORY), "variables": variables}
            runs = [timed(server, client, body) for _ in range(max(2, pages))]
            rest = statistics.median(cpu for cpu, _ in runs[1:])
            rows.append(
                [
                    label,
                    "history, limit 100",
                    f"{runs[0][0]:.2f}",
                    f"{rest:.2f}",
                    what_it_got(runs[-1][1]),
                    f"{len(runs[-1][1]) / MIB:.1f}",
                    f"{server.resident_bytes() / MIB:.0f}",
                ]
            )
        if "repeats" in probes:
            selection = "u { id } " * 400
            repeated = (
                f'{{ livechatMessages(token: "{TOKEN}", rid: "{rid}") {{ ... on '
                f"LivechatMessagesSuccess {{ messages {{ {selection} }} }} }} }}"
            )
            cpu, answer = timed(server, client, {"query": repeated})
            rows.append(
                [
                    label,
                    "400 x u { id }",
                    f"{cpu:.2f}",
                    "",
                    what_it_got(answer),
                    f"{len(answer) / MIB:.1f}",
                    f"{server.resident_bytes() / MIB:.0f}",
                ]
            )
        if "worst" in probes:
            cpu, answer = timed(server, client, {"query": ten_pages(root), "variables": variables})
            rows.append(
                [
                    label,
                    "10 aliased pages of 100",
                    f"{cpu:.2f}",
                    "",
                    what_it_got(answer),
                    f"{len(answer) / MIB:.1f}",
                    f"{server.resident_bytes() / MIB:.0f}",
                ]
            )
    return rows


def flood(label: str, root: Path, probe: str, count: int, size: int) -> list[str]:
    with (
        tempfile.TemporaryDirectory() as directory,
        processes.livechat_graphql(
            "--database", str(Path(directory) / "bench.db"), source=root
        ) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        client.post("/graphql", json={"query": padded(-1, 1000)})  # warm: the schema's first
        before = server.resident_bytes()
        began, failed = time.perf_counter(), 0
        for number in range(count):
            text = padded(number, size)
            body: dict[str, Any] = {"query": text}
            if probe == "apq":
                digest = hashlib.sha256(text.encode()).hexdigest()
                body["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            answer = client.post("/graphql", json=body)
            failed += answer.json() != {
                "data": {"livechatMessages": {"__typename": "LivechatError"}}
            }
        after = server.resident_bytes()
        return [
            label,
            f"{probe}: {count} x {size // 1000} KB",
            f"{time.perf_counter() - began:.1f}",
            f"{before / MIB:.0f}",
            f"{after / MIB:.0f}",
            f"{(after - before) / MIB:+.0f}",
            str(failed),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--probes", nargs="+", default=["history", "worst", "distinct", "apq"])
    parser.add_argument("--baseline", type=Path, help="a checkout to measure alongside")
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--distinct", type=int, default=800)
    parser.add_argument("--distinct-kb", type=int, default=400)
    parser.add_argument("--apq", type=int, default=500)
    parser.add_argument("--apq-kb", type=int, default=990)
    arguments = parser.parse_args()
    builds = {**({"baseline": arguments.baseline} if arguments.baseline else {})}
    builds["this"] = operations.ROOT
    probes = arguments.probes
    if {"history", "worst", "repeats"} & set(probes):
        rows = []
        for label, root in builds.items():
            rows += history_and_worst(label, root, probes, arguments.pages)
        header = ["build", "document", "CPU s", "CPU s again", "client gets", "answer MiB"]
        print(operations.markdown_table([*header, "RSS MiB after"], rows))
        print()
    floods = [
        (probe, count, kb * 1000)
        for probe, count, kb in (
            ("distinct", arguments.distinct, arguments.distinct_kb),
            ("apq", arguments.apq, arguments.apq_kb),
        )
        if probe in probes
    ]
    if floods:
        rows = [
            flood(label, root, probe, count, size)
            for probe, count, size in floods
            for label, root in builds.items()
        ]
        header = ["build", "documents", "seconds", "RSS MiB before", "RSS MiB after"]
        print(operations.markdown_table([*header, "growth MiB", "failed"], rows))


if __name__ == "__main__":
    main()
