"""``aimass runs ...``: training runs and their metrics."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json, show_run, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["runs"]


@cli.group(cls=AimassGroup)
def runs() -> None:
    """Training runs and their metrics."""


@runs.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def runs_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List training runs with their latest metrics."""
    from aimass_lab._listings import run_rows

    rows, columns = run_rows(workspace_of(ctx), limit=limit)
    if as_json:
        emit_json(rows)
    else:
        table(rows, columns)


@runs.command("show")
@click.argument("run_id")
@json_option
@click.pass_context
def runs_show(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Show a run: spec, state and every metric's last value."""
    from aimass_lab.train import Run

    run = Run(run_id, workspace_of(ctx))
    doc = {**run.to_dict(), "run_dir": str(run.run_dir), "tensorboard": str(run.tensorboard_dir)}
    if as_json:
        emit_json(doc)
    else:
        show_run(run, False)
        click.echo(f"  folder: {doc['run_dir']}\n  tensorboard --logdir {doc['tensorboard']}")
