"""The root of the ``aimass`` command: the group, its options and the workspace it opens."""

from __future__ import annotations

from typing import Any

import click

from aimass_lab._version import __version__
from aimass_lab.errors import AimassError
from aimass_lab.settings import env_name

__all__ = ["AimassGroup", "cli", "main", "workspace_of"]


class AimassGroup(click.Group):
    """A group that turns AimassError into a clean one-line error and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AimassError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


def workspace_of(ctx: click.Context) -> Any:
    """The :class:`~aimass_lab.workspace.Workspace` of the root options (opened once)."""
    from aimass_lab.workspace import Workspace

    obj = ctx.find_root().obj or {}
    if "workspace" not in obj:
        obj["workspace"] = Workspace(obj.get("path"), db_url=obj.get("db_url"))
        ctx.find_root().obj = obj
    return obj["workspace"]


@click.group(cls=AimassGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aimass")
@click.option(
    "--workspace",
    "-w",
    "path",
    envvar=env_name("home"),
    type=click.Path(file_okay=False),
    help="Workspace folder [default: ./aimass-workspace, or $AIMASS_HOME].",
)
@click.option(
    "--db-url",
    envvar=env_name("db_url"),
    help="Metadata store URL (SQLite or PostgreSQL) [$AIMASS_DB_URL].",
)
@click.pass_context
def cli(ctx: click.Context, path: str | None, db_url: str | None) -> None:
    """AI Mass Lab: data → train → search → compress → registry → deploy, from a terminal.

    Every long piece of work runs as a job in the workspace; the notebook, this command
    and JupyterLab all see the same jobs, runs and models.
    """
    ctx.obj = {"path": path, "db_url": db_url}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aimass`` console script."""
    try:
        cli.main(args=argv, prog_name="aimass", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
