"""The `livechat-graphql` command: serve, healthcheck, export-schema, export-fragment.

Every `serve` flag is a field of `Settings` (its help and choices come from there) and also reads
from the environment as LIVECHAT_GRAPHQL_<FLAG>.
"""

from __future__ import annotations

import argparse
import signal
import sys
import typing
from collections.abc import Sequence
from typing import Any

from app.settings import Settings

SERVE_FLAGS = ("host", "port", "backend", "upstream_url", "database", "workers", "production")


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


def serve(settings: Settings) -> None:
    import uvicorn

    from app import logs

    logs.configure(settings.log_level, settings.log_format)
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
    return main


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parser().parse_args(argv)
    if arguments.command == "healthcheck":
        sys.exit(healthcheck(Settings()))
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
