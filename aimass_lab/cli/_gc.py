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
    """Remove stale temp files of interrupted saves (a checkpoint killed mid-write), and
    stop orphaned services (servers whose kernel is gone or whose process died).

    \b
    A temp file is stale when its writer is gone: written on this host by a process that
    no longer runs, or (another host, an older name) not modified for a day. Files of
    live writers are kept. A service (the inference server) started from a kernel that
    has ended is stopped (recorded stopped, "kernel ended (aimass gc)"); one whose process
    died is recorded interrupted. Training, search and other jobs are never stopped.
    """
    from aimass_lab.workspace import orphaned_services

    ws = workspace_of(ctx)
    removed = ws.gc(dry_run=dry_run)
    services = orphaned_services(ws, dry_run=dry_run)
    total = sum(int(r["bytes"]) for r in removed)
    if as_json:
        emit_json({"dry_run": dry_run, "removed": removed, "bytes": total, "services": services})
        return
    verb = "would remove" if dry_run else "removed"
    for r in removed:
        click.echo(f"{verb} {r['path']} ({r['bytes'] / 1e6:.1f} MB)")
    click.echo(f"{verb} {len(removed)} stale temp file(s), {total / 1e6:.1f} MB")
    stop = "would stop" if dry_run else "stopped"
    for s in services:
        click.echo(
            f"{stop} service {s['job_id']} ({s['kind']}, owner {s['owner'] or '?'}): {s['reason']}"
        )
    click.echo(f"{stop} {len(services)} orphaned service(s)")
