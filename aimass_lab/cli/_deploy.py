"""``aimass deploy`` and ``aimass deployments ...``: serve registered versions as
deployments of the workspace's server; list, split, roll back, stop and start them.

Thin: every command calls :mod:`aimass_lab.serve` and prints what it returns.
"""

from __future__ import annotations

from typing import Any

import click

from aimass_lab._listings import version_key
from aimass_lab.cli._options import field_option, json_option
from aimass_lab.cli._output import echo_fields, emit_json, fmt, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of
from aimass_lab.specs import BatchingSpec, DeploySpec

__all__ = ["deploy_cmd", "deployments_group"]


def _show(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    split = doc.get("split") or {}
    refs = {v["version"]: v.get("ref") for v in doc.get("versions", [])}
    echo_fields(
        {
            "name": doc["name"],
            "state": doc["state"],
            "endpoint": doc.get("endpoint"),
            "infer_url": doc.get("infer_url"),
            "job_id": doc.get("job_id"),
            "versions": ", ".join(f"{v} ({refs[v]})" for v in sorted(refs, key=version_key))
            or None,
            "split": " ".join(f"{k}={w}" for k, w in split.items()) or None,
            "previous_split": " ".join(
                f"{k}={w}" for k, w in (doc.get("previous_split") or {}).items()
            )
            or None,
            "updated_at": doc.get("updated_at"),
        }
    )


@cli.command("deploy")
@click.argument("ref", metavar="NAME:VERSION")
@field_option(DeploySpec, "name", "--name", default=None)
@field_option(
    DeploySpec, "port", "--port", help="Port of a new workspace server (default 8500 when free)"
)
@field_option(DeploySpec, "replicas", "--replicas", default=1, show_default=True)
@field_option(DeploySpec, "engine", "--engine", default="auto", show_default=True)
@field_option(
    BatchingSpec, "max_batch_size", "--max-batch-size", help="Dynamic batching: rows per batch"
)
@field_option(
    BatchingSpec,
    "max_delay_ms",
    "--max-delay-ms",
    help="Dynamic batching: longest wait for more rows, only while requests keep arriving",
)
@field_option(BatchingSpec, "queue_size", "--queue-size", help="Requests waiting at most")
@click.option("--no-batching", is_flag=True, help="Run every request on its own.")
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="A new server requires the API keys in $VAR (comma-separated).",
)
@field_option(
    DeploySpec,
    "idle_timeout_s",
    "--idle-timeout",
    metavar="SECONDS",
    help="A new server stops after SECONDS without an inference request (0: never; "
    "default AIMASS_IDLE_SHUTDOWN_S)",
)
@click.option("--timeout", type=float, default=180.0, show_default=True)
@json_option
@click.pass_context
def deploy_cmd(
    ctx: click.Context,
    ref: str,
    name: str | None,
    port: int | None,
    replicas: int,
    engine: str,
    max_batch_size: int | None,
    max_delay_ms: float | None,
    queue_size: int | None,
    no_batching: bool,
    api_key_env: str | None,
    idle_timeout_s: float | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Serve a registered model version; return once it answers.

    \b
    aimass deploy digits-mlp:3 --name digits --json
    A new version to the same --name is a hot swap (rollback: aimass deployments rollback).
    """
    from aimass_lab.serve import deploy

    batching: dict[str, Any] | bool | None = None
    given = {
        "max_batch_size": max_batch_size,
        "max_delay_ms": max_delay_ms,
        "queue_size": queue_size,
    }
    if no_batching:
        if max_batch_size not in (None, 1):
            raise click.BadParameter(
                "--no-batching and --max-batch-size > 1 contradict each other",
                param_hint="--max-batch-size",
            )
        batching = False
    elif any(v is not None for v in given.values()):
        batching = {k: v for k, v in given.items() if v is not None}
    dep = deploy(
        ref,
        name=name,
        replicas=replicas,
        batching=batching,
        engine=engine,
        port=port,
        api_key_env=api_key_env,
        workspace=workspace_of(ctx),
        timeout=timeout,
        idle_timeout_s=idle_timeout_s,
    )
    doc = dep.to_dict()
    if as_json:
        emit_json(doc)
        return
    click.echo(f"deployed {doc['spec']['model']} as {dep.name!r}: {dep.endpoint}")
    click.echo(f"  OIP v2: {dep.infer_url}")
    click.echo(f"  split:  {' '.join(f'{k}={w}' for k, w in dep.split_weights.items())}")


@cli.group("deployments", cls=AimassGroup)
def deployments_group() -> None:
    """Deployments: list, show, split traffic, roll back, stop, start."""


@deployments_group.command("list")
@click.option("--running", is_flag=True, help="Only running deployments.")
@json_option
@click.pass_context
def deployments_list(ctx: click.Context, running: bool, as_json: bool) -> None:
    """List the workspace's deployments."""
    from aimass_lab._listings import deployment_rows

    rows, columns = deployment_rows(workspace_of(ctx), running=running)
    if as_json:
        emit_json([r["record"] for r in rows])
    else:
        table(rows, columns)


@deployments_group.command("show")
@click.argument("name")
@json_option
@click.pass_context
def deployments_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a deployment: versions, split, URLs (and metrics with --json)."""
    from aimass_lab.serve import get_deployment

    dep = get_deployment(name, workspace_of(ctx)).refresh()
    doc = dep.to_dict()
    if dep.state == "running":
        try:
            doc["metrics"] = dep.metrics()
        except Exception as exc:  # metrics are a bonus here; the record is the answer
            doc["metrics_error"] = str(exc)
    if as_json:
        emit_json(doc)
        return
    _show(doc, as_json=False)
    for version, m in (doc.get("metrics") or {}).items():
        shown = ", ".join(f"{k} {fmt(v)}" for k, v in m.items() if k != "rps")
        click.echo(f"  version {version}: {shown}")


@deployments_group.command("split")
@click.argument("name")
@click.argument("weights", nargs=-1, required=True, metavar="VERSION=WEIGHT...")
@click.option("--shadow", metavar="VERSION", help="Also mirror every request to VERSION.")
@json_option
@click.pass_context
def deployments_split(
    ctx: click.Context,
    name: str,
    weights: tuple[str, ...],
    shadow: str | None,
    as_json: bool,
) -> None:
    """Route traffic between loaded versions, applied live: split NAME 3=90 4=10."""
    from aimass_lab.serve import get_deployment, parse_split

    parsed = parse_split(list(weights))  # bad input fails before the workspace is read
    dep = get_deployment(name, workspace_of(ctx)).split(parsed, shadow=shadow)
    if as_json:
        emit_json(dep.to_dict())
    else:
        shown = " ".join(f"{k}={w}" for k, w in dep.split_weights.items())
        click.echo(f"{name}: split {shown}" + (f", shadow {shadow}" if shadow else ""))


@deployments_group.command("rollback")
@click.argument("name")
@json_option
@click.pass_context
def deployments_rollback(ctx: click.Context, name: str, as_json: bool) -> None:
    """Return to the split before the last deploy or split."""
    from aimass_lab.serve import get_deployment

    dep = get_deployment(name, workspace_of(ctx)).rollback()
    if as_json:
        emit_json(dep.to_dict())
    else:
        shown = " ".join(f"{k}={w}" for k, w in dep.split_weights.items())
        click.echo(f"{name}: rolled back to split {shown}")


@deployments_group.command("stop")
@click.argument("name")
@json_option
@click.pass_context
def deployments_stop(ctx: click.Context, name: str, as_json: bool) -> None:
    """Unload a deployment (the server stops when it serves nothing else)."""
    from aimass_lab.serve import get_deployment

    dep = get_deployment(name, workspace_of(ctx)).stop()
    if as_json:
        emit_json(dep.to_dict())
    else:
        click.echo(f"{name}: stopped")


@deployments_group.command("start")
@click.argument("name")
@click.option("--timeout", type=float, default=180.0, show_default=True)
@json_option
@click.pass_context
def deployments_start(ctx: click.Context, name: str, timeout: float, as_json: bool) -> None:
    """Bring a down or stopped deployment back as recorded: versions, settings, split.

    \b
    Starts the workspace server if needed; a running deployment is left as it is.
    """
    from aimass_lab.serve import get_deployment

    dep = get_deployment(name, workspace_of(ctx)).start(timeout=timeout)
    if as_json:
        emit_json(dep.to_dict())
    else:
        shown = " ".join(f"{k}={w}" for k, w in dep.split_weights.items())
        click.echo(f"{name}: running at {dep.endpoint}, split {shown}")
