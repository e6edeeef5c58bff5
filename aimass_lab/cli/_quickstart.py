"""``aimass quickstart``: the headless end to end on digits."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json
from aimass_lab.cli._root import cli, workspace_of

__all__ = ["quickstart"]


@cli.command()
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--name", default="quickstart-digits", show_default=True, help="Registry name.")
@json_option
@click.pass_context
def quickstart(ctx: click.Context, epochs: int, name: str, as_json: bool) -> None:
    """Headless end to end on digits: train, register, evaluate, search, compress, deploy."""
    from aimass_lab.quickstart import run_quickstart

    def say(message: str) -> None:
        if not as_json:
            click.echo(message)

    summary = run_quickstart(
        workspace_of(ctx), epochs=epochs, name=name, say=say, progress=not as_json
    )
    if as_json:
        emit_json(summary)
    if summary["status"] != "succeeded":
        ctx.exit(1)
