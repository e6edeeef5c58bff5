"""``aimass backup`` and ``aimass restore``: snapshots of a workspace, taken while jobs run."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json
from aimass_lab.cli._root import cli, workspace_of

__all__ = ["backup_command", "restore_command"]


@cli.command("backup")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--every",
    metavar="INTERVAL",
    help="Back up every INTERVAL (30s, 15m, 6h, 1d) in a detached job, until it is cancelled.",
)
@click.option(
    "--keep",
    metavar="N",
    type=click.IntRange(min=1),
    help="Keep only the newest N backups in DIRECTORY (older ones go after a new one is complete).",
)
@json_option
@click.pass_context
def backup_command(
    ctx: click.Context, directory: str, every: str | None, keep: int | None, as_json: bool
) -> None:
    """Write a consistent backup of the workspace into a new folder of DIRECTORY.

    \b
    The store is snapshotted first (SQLite's online backup, or pg_dump for PostgreSQL),
    then the run folders and artifacts it references are copied, with a manifest of
    sha256s. Jobs may keep running. With --every, a detached job does it every interval:
      aimass backup --every 6h --keep 7 /backups/lab
    """
    from aimass_lab.workspace import backup, parse_interval, prune_backups, schedule_backup

    ws = workspace_of(ctx)
    if every is not None:
        parse_interval(every)  # a clear error before any job is recorded
        job = schedule_backup(ws, directory, every, keep)
        if as_json:
            emit_json(job.to_dict())
            return
        click.echo(f"started backup job {job.id}: every {every} into {directory}")
        click.echo(f"stop it with: aimass jobs cancel {job.id}")
        return
    path = backup(ws, directory)
    removed = prune_backups(directory, keep) if keep else []
    if as_json:
        emit_json({"backup": str(path), "removed": [str(p) for p in removed]})
        return
    click.echo(f"backup written: {path}")
    for old in removed:
        click.echo(f"removed old backup {old}")


@cli.command("restore")
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(exists=True, file_okay=False))
@click.argument("target", type=click.Path(file_okay=False))
@click.option(
    "--db-url",
    "target_db",
    metavar="URL",
    help="For a PostgreSQL backup: the empty database to restore the store into.",
)
@json_option
@click.pass_context
def restore_command(
    ctx: click.Context, backup_dir: str, target: str, target_db: str | None, as_json: bool
) -> None:
    """Verify BACKUP (every sha256) and restore it into the new, empty workspace TARGET.

    \b
    Jobs that were running when the backup was taken are restored as interrupted
    (resumable); every model version is verified by sha256 after the restore.
    """
    from aimass_lab.workspace import restore

    report = restore(backup_dir, target, db_url=target_db)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"restored {report['files']} files into {report['workspace']} ({report['db']}): "
        f"{report['jobs']} jobs, {len(report['model_versions'])} model versions verified"
    )
