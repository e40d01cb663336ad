"""The `livechat-graphql` command: serve, export-schema, export-fragment.

Every `serve` flag also reads from the environment as LIVECHAT_GRAPHQL_<FLAG>.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Sequence
from typing import Any

from app.settings import Settings


def possible_types() -> dict[str, list[str]]:
    """Apollo Client's `possibleTypes`: every union's (and interface's) member names."""
    from graphql import GraphQLInterfaceType, GraphQLUnionType

    from app.graphql.schema import schema

    graphql_schema = schema._schema
    answer: dict[str, list[str]] = {}
    for name, graphql_type in sorted(graphql_schema.type_map.items()):
        if name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLUnionType):
            answer[name] = [member.name for member in graphql_type.types]
        elif isinstance(graphql_type, GraphQLInterfaceType):
            answer[name] = [t.name for t in graphql_schema.get_possible_types(graphql_type)]
    return answer


def export_sdl() -> str:
    from app.graphql.schema import schema

    return schema.as_str() + "\n"


def export_possible_types() -> str:
    return json.dumps(possible_types(), indent=2) + "\n"


def serve(settings: Settings) -> None:
    import uvicorn

    from app import logs
    from app.main import create_app

    logs.configure(settings.log_level, access_every=settings.log_access_every)
    workers = settings.worker_count()
    if workers == 1:
        app = create_app(settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
        return
    # Each worker process builds its app from the settings, which the parent exported.
    settings.export_to_environment()
    supervise(settings, workers)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket of one worker's own on the shared port (SO_REUSEPORT).

    With one socket shared by every worker (uvicorn's `--workers`), whichever process wakes
    first takes each new connection, and keep-alive clients stay where they landed: 6 of 8
    connections were seen on one of two workers. With a socket per worker the kernel spreads
    connections over the workers evenly, by a hash of their addresses."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_worker(host: str, port: int) -> None:
    """One worker: its own socket on the shared port, its app built from the environment."""
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config("app.main:create_app_from_environment", factory=True, log_config=None)
    uvicorn.Server(config).run(sockets=[sock])


def supervise(settings: Settings, workers: int) -> None:
    """Start `workers` worker processes and stop them all when told to (or when one dies)."""
    import multiprocessing
    import multiprocessing.connection
    import signal

    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - not Linux or BSD
        raise SystemExit("several workers need SO_REUSEPORT, which this system lacks")
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=run_worker, args=(settings.host, settings.port), daemon=False)
        for _ in range(workers)
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.start()
    try:
        while not stopping and all(child.is_alive() for child in children):
            multiprocessing.connection.wait([child.sentinel for child in children], timeout=0.5)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes what it has in hand
        for child in children:
            child.join(timeout=30)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="livechat-graphql", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the GraphQL API until stopped")
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8000)")
    run.add_argument("--backend", choices=["inprocess", "upstream"], help="default inprocess")
    run.add_argument("--upstream-url", help="the Rocket.Chat server, for --backend upstream")
    run.add_argument("--database", help="SQLite file of the in-process backend")
    run.add_argument(
        "--workers", type=int, help="server processes (default: 1 in-process, one per CPU upstream)"
    )
    run.add_argument(
        "--production",
        action="store_true",
        default=None,
        help="no introspection, no field suggestions, no GraphiQL",
    )
    export = commands.add_parser("export-schema", help="print the SDL of the served schema")
    export.add_argument(
        "--possible-types",
        action="store_true",
        help="print Apollo Client's possibleTypes JSON instead of the SDL",
    )
    fragment = commands.add_parser(
        "export-fragment", help="print the MarkdownNode fragment that queries/ ships"
    )
    fragment.add_argument("--depth", type=int, help="node levels to nest")
    return main


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser().parse_args(argv)
    if arguments.command == "export-schema":
        sys.stdout.write(export_possible_types() if arguments.possible_types else export_sdl())
        return
    if arguments.command == "export-fragment":
        from app.graphql.fragments import DEFAULT_DEPTH, markdown_fragment

        sys.stdout.write(markdown_fragment(arguments.depth or DEFAULT_DEPTH))
        return
    overrides: dict[str, Any] = {
        key: value
        for key, value in vars(arguments).items()
        if key not in {"command"} and value is not None
    }
    serve(Settings(**overrides))


if __name__ == "__main__":
    main()
