"""The `livechat-graphql` command: serve, healthcheck, export-schema, export-fragment.

Every `serve` flag also reads from the environment as LIVECHAT_GRAPHQL_<FLAG>.
"""

from __future__ import annotations

import argparse
import json
import signal
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

    logs.configure(settings.log_level)
    # SIGTERM is how containers and supervisors ask for a stop (app/shutdown.py says how it
    # drains); uvicorn raises the signal again once it is done, and that is a normal end,
    # status 0 (before uvicorn is up, an immediate one).
    signal.signal(signal.SIGTERM, _stopped)
    workers = settings.worker_count()
    if workers == 1:
        from app.shutdown import Draining, DrainingServer

        app = Draining(create_app(settings))
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
        server = DrainingServer(config, app, settings.shutdown_drain)
        server.run()
        if not server.started:
            sys.exit(3)  # as uvicorn.run: the app could not start
        return
    # Each worker process imports the factory and reads its settings from the environment.
    settings.export_to_environment()
    uvicorn.run(
        "app.main:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


def healthcheck(settings: Settings) -> int:
    """A container's HEALTHCHECK: the local server's /healthz, as an exit status (the slim
    image has no curl)."""
    import httpx

    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    try:
        answer = httpx.get(f"http://{host}:{settings.port}/healthz", timeout=3)
    except httpx.HTTPError:
        return 1
    return 0 if answer.status_code == 200 else 1


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


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
    commands.add_parser(
        "healthcheck", help="exit 0 if the server on this machine's --port answers /healthz 200"
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
    if arguments.command == "healthcheck":
        sys.exit(healthcheck(Settings()))
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
