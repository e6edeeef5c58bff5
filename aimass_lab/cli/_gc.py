"""``aimass gc``: remove what interrupted work left behind in the workspace."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json
from aimass_lab.cli._root import cli, workspace_of

__all__ = ["gc"]


@cli.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@json_option
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Remove stale temp files of interrupted saves (a checkpoint killed mid-write).

    \b
    A temp file is stale when its writer is gone: written on this host by a process that
    no longer runs, or (another host, an older name) not modified for a day. Files of
    live writers are kept.
    """
    removed = workspace_of(ctx).gc(dry_run=dry_run)
    total = sum(int(r["bytes"]) for r in removed)
    if as_json:
        emit_json({"dry_run": dry_run, "removed": removed, "bytes": total})
        return
    verb = "would remove" if dry_run else "removed"
    for r in removed:
        click.echo(f"{verb} {r['path']} ({r['bytes'] / 1e6:.1f} MB)")
    click.echo(f"{verb} {len(removed)} stale temp file(s), {total / 1e6:.1f} MB")
