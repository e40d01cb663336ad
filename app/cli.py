"""The `livechat-graphql` command: serve, agent, healthcheck, export-schema, export-fragment.

Every `serve` flag is a field of `Settings` (its help and choices come from there) and also reads
from the environment as LIVECHAT_GRAPHQL_<FLAG>.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import typing
from collections.abc import Sequence
from typing import Any

from app.settings import Settings

SERVE_FLAGS = (
    "host",
    "port",
    "backend",
    "upstream_url",
    "database",
    "workers",
    "production",
    "rate_limit",
    "metrics",
)


def _add_setting_flag(command: argparse.ArgumentParser, name: str) -> None:
    field = Settings.model_fields[name]
    flag = "--" + name.replace("_", "-")
    default = field.get_default(call_default_factory=True)
    help_text = field.description if default is None else f"{field.description} (default {default})"
    if field.annotation is bool:
        command.add_argument(flag, action="store_true", default=None, help=field.description)
        return
    choices = typing.get_args(field.annotation)
    if typing.get_origin(field.annotation) is typing.Literal:
        command.add_argument(flag, choices=choices, help=help_text)
    elif int in choices or field.annotation is int:
        command.add_argument(flag, type=int, help=help_text)
    else:
        command.add_argument(flag, help=help_text)


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings, for one server or each worker: its websockets protocol
    with a bounded outbox and minus the last frame it keeps (app/websocket_protocol.py), and
    messages no larger than an HTTP request's body may be."""
    from app.websocket_protocol import WebSocketProtocol

    return {
        "ws": WebSocketProtocol.bounded(settings.websocket_outbox_bytes),
        "ws_max_size": settings.max_body_bytes,
        "ws_per_message_deflate": settings.websocket_compression,
    }


def edge_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's HTTP settings, for one server or each worker: its httptools protocol with
    the head limit and read timeouts it lacks (app/http_protocol.py) and a shutdown that cuts
    no request on its way (app/shutdown.py), its idle timeout, and the connections it serves
    at once."""
    from app.http_protocol import EdgeLimits, connection_limit, edge_protocol
    from app.shutdown import DrainingHttpProtocol

    limits = EdgeLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
    )
    return {
        "http": edge_protocol(limits, DrainingHttpProtocol),
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": connection_limit(
            settings.max_connections, settings.upstream_max_connections
        ),
    }


def serve(settings: Settings) -> None:
    from app.observability import workers as metric_workers

    # Before anything imports prometheus_client, which reads it then; `supervise` sets it.
    metric_workers.in_memory()

    import uvicorn

    from app import logs

    logs.configure(settings.log_level, settings.log_format, access_every=settings.log_access_every)
    # SIGTERM is how containers and supervisors ask for a stop (app/shutdown.py says how it
    # drains); uvicorn raises the signal again once it is done, and that is a normal end,
    # status 0 (before uvicorn is up, an immediate one).
    signal.signal(signal.SIGTERM, _stopped)
    workers = settings.worker_count()
    if workers == 1:
        from app.main import create_app
        from app.shutdown import Draining, DrainingServer

        app = Draining(create_app(settings))
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=False,  # the app believes TRUSTED_PROXIES only (app/main.py)
            **websocket_options(settings),
            **edge_options(settings),
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
        server = DrainingServer(config, app, settings.shutdown_drain)
        server.run()
        if not server.started:
            sys.exit(3)  # as uvicorn.run: the app could not start
        return
    # Each worker process builds its app from the settings, which the parent exported.
    settings.export_to_environment()
    supervise(settings, workers)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket of one worker's own on the shared port (SO_REUSEPORT), bound but not yet
    listening: uvicorn listens on it once the app has started, so no connection waits in the
    backlog of a worker that is still starting (and would be reset if it were stopped then).

    With one socket shared by every worker (uvicorn's `--workers`), whichever process wakes
    first takes each new connection, and keep-alive clients stay where they landed: 6 of 8
    connections were seen on one of two workers. With a socket per worker the kernel spreads
    connections over the workers evenly, by a hash of their addresses."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_worker(host: str, port: int) -> None:
    """One worker: its own socket on the shared port, its app built from the environment,
    drained on SIGTERM as a single server is (app/shutdown.py)."""
    import uvicorn

    from app.main import create_app_from_environment
    from app.shutdown import Draining, DrainingServer

    settings = Settings()
    sock = listening_socket(host, port)
    app = Draining(create_app_from_environment())
    config = uvicorn.Config(
        app,
        log_config=None,
        proxy_headers=False,  # the app believes TRUSTED_PROXIES only (app/main.py)
        **websocket_options(settings),
        **edge_options(settings),
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    DrainingServer(config, app, settings.shutdown_drain).run(sockets=[sock])


def supervise(settings: Settings, workers: int) -> None:
    """Start `workers` worker processes and stop them all when told to (or when one dies).
    With metrics on, they share a directory of metric files (app/observability/workers.py),
    so that a scrape of any of them reports the whole server."""
    import multiprocessing
    import multiprocessing.connection
    import signal

    from app.observability.workers import shared_by_workers

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
    with shared_by_workers(settings.metrics) as exited:

        def forget_if_exited(child: multiprocessing.process.BaseProcess) -> None:
            if child.pid is not None and child.exitcode is not None:
                exited(child.pid)

        for child in children:
            child.start()
        try:
            while not stopping and all(child.is_alive() for child in children):
                multiprocessing.connection.wait([child.sentinel for child in children], timeout=0.5)
        finally:
            for child in children:
                if child.is_alive():
                    child.terminate()  # SIGTERM: uvicorn finishes what it has in hand
                forget_if_exited(child)  # the one that died, while the others drain
            for child in children:
                child.join(timeout=30)
                forget_if_exited(child)


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
    for name in SERVE_FLAGS:
        _add_setting_flag(run, name)
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
    from app import agent_cli

    agent_cli.add_parser(commands)
    return main


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser().parse_args(argv)
    if arguments.command == "healthcheck":
        sys.exit(healthcheck(Settings()))
    if arguments.command == "agent":
        from app import agent_cli

        sys.exit(agent_cli.main(arguments))
    if arguments.command in ("export-schema", "export-fragment"):
        from app.graphql import export, fragments
        from app.main import served_schema

        schema = served_schema(Settings())
        if arguments.command == "export-fragment":
            depth = arguments.depth or fragments.DEFAULT_DEPTH
            text = fragments.markdown_fragment(export.graphql_core_schema(schema), depth)
        elif arguments.possible_types:
            text = export.possible_types_json(schema)
        else:
            text = export.sdl(schema)
        sys.stdout.write(text)
        return
    overrides: dict[str, Any] = {
        key: value
        for key, value in vars(arguments).items()
        if key != "command" and value is not None
    }
    serve(Settings(**overrides))


if __name__ == "__main__":
    main()
