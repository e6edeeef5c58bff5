"""``aimass serve`` and ``python -m aimass_lab.serve``: the workspace's inference server in
this process."""

from __future__ import annotations

import sys
from typing import Any

import click

from aimass_lab.cli._root import cli
from aimass_lab.errors import AimassError
from aimass_lab.serve.server import DEFAULT_MAX_REQUEST_ROWS, DEFAULT_PORT, ISOLATIONS
from aimass_lab.specs import DEPLOY_ENGINES

__all__ = ["serve_command", "serve_main"]


@click.command("serve")
@click.option(
    "--workspace",
    "-w",
    "workspace",
    type=click.Path(file_okay=False),
    help="Workspace folder [default: the current workspace].",
)
@click.option("--db-url", help="Metadata store URL [default: the workspace's].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=int, default=DEFAULT_PORT, show_default=True, help="Port (0 picks a free one)."
)
@click.option(
    "--models",
    "models",
    multiple=True,
    metavar="NAME:REF",
    help="A registry version to serve (repeatable): digits:3, digits:prod.",
)
@click.option(
    "--replicas",
    type=int,
    default=1,
    show_default=True,
    help="Engine replicas per version (2+ run as worker processes).",
)
@click.option(
    "--isolation",
    type=click.Choice(ISOLATIONS),
    default="auto",
    show_default=True,
    help="Where replicas run: auto (1 in-process, 2+ processes), thread, process.",
)
@click.option(
    "--max-batch-size",
    type=int,
    default=32,
    show_default=True,
    help="Most rows per batch (larger requests are split into batches).",
)
@click.option(
    "--max-request-rows",
    type=int,
    default=DEFAULT_MAX_REQUEST_ROWS,
    show_default=True,
    help="Most rows per request, split into batches of --max-batch-size; "
    "0: no splitting, refuse above --max-batch-size (as Triton).",
)
@click.option(
    "--max-delay-ms",
    type=float,
    default=2.0,
    show_default=True,
    help="Longest wait for more rows, only while requests keep arriving.",
)
@click.option(
    "--queue-size",
    type=int,
    default=1024,
    show_default=True,
    help="Most requests waiting per version (then 429).",
)
@click.option(
    "--bucket-by-length",
    is_flag=True,
    help="Text models: batch requests of similar length together (less padding).",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="Env var holding the API key(s), comma-separated: inference routes then need one.",
)
@click.option("--admin", is_flag=True, help="Enable the admin API (load, unload, split, rollback).")
@click.option(
    "--admin-key-env", metavar="VAR", help="Env var holding the admin key(s) (header x-admin-key)."
)
@click.option(
    "--max-body-bytes",
    type=int,
    default=16 * 1024 * 1024,
    show_default=True,
    help="Larger bodies get 413.",
)
@click.option(
    "--max-body-bytes-in-flight",
    type=int,
    default=64 * 1024 * 1024,
    show_default=True,
    help="Most bytes of large bodies held at once; others wait unread (then 503).",
)
@click.option(
    "--timeout-s",
    type=float,
    default=30.0,
    show_default=True,
    help="Requests not answered in time get 504.",
)
@click.option(
    "--drain-timeout-s",
    type=float,
    default=30.0,
    show_default=True,
    help="On SIGTERM, the longest wait for in-flight requests.",
)
@click.option(
    "--drain-grace-s",
    type=float,
    default=0.5,
    show_default=True,
    help="On SIGTERM, keep answering 503 + Connection: close this long before closing.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    help='Write {"url","port","pid"} here once ready.',
)
@click.option(
    "--engine",
    type=click.Choice(DEPLOY_ENGINES),
    default="auto",
    show_default=True,
)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option("--threads", type=int, help="Intra-op threads per engine replica [default: 1].")
@click.option(
    "--strict-readiness/--no-strict-readiness",
    default=True,
    show_default=True,
    help="/v2/health/ready is 503 while a model of --models failed to load "
    "(--no-strict-readiness: ready, serving the models that loaded).",
)
@click.option(
    "--idle-timeout",
    "idle_timeout_s",
    type=float,
    default=0.0,
    metavar="SECONDS",
    help="Stop (drain, exit 0) after SECONDS without an inference request [default: 0, never].",
)
@click.pass_context
def serve_command(ctx: click.Context, **opts: Any) -> None:
    """Serve registered models: Open Inference Protocol v2 + JSON, batching, versions, metrics.

    \b
    Routes: /v2/health/live|ready, /v2, /v2/models/NAME[/versions/V][/ready|/infer],
    POST /v1/models/NAME[:VERSION_OR_ALIAS]/predict, /metrics, /openapi.json, /admin/...
    SIGTERM (or Ctrl-C) drains: ready turns 503, in-flight requests finish, exit 0.
    """
    from aimass_lab.serve import ServerConfig, keys_from_env, run_server

    root = ctx.find_root().obj or {}
    try:
        api_var = opts.pop("api_key_env")
        admin_var = opts.pop("admin_key_env")
        config = ServerConfig(
            workspace=opts.pop("workspace") or root.get("path"),
            db_url=opts.pop("db_url") or root.get("db_url"),
            models=list(opts.pop("models")),
            api_keys=keys_from_env(api_var) if api_var else [],
            admin_keys=keys_from_env(admin_var) if admin_var else [],
            **opts,
        )
        if config.admin and not config.admin_keys:
            raise AimassError(
                "--admin needs a key: --admin-key-env VAR (the variable holds the key)"
            )
        code = run_server(config)
    except AimassError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    ctx.exit(code)


def serve_main(argv: list[str] | None = None) -> None:
    """``python -m aimass_lab.serve``: the serve command on its own."""
    serve_command.main(
        args=argv if argv is not None else sys.argv[1:], prog_name="python -m aimass_lab.serve"
    )


cli.add_command(serve_command, "serve")
