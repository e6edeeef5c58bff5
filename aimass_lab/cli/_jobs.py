"""``aimass jobs ...``: list, show, cancel and resume jobs, and print or follow their logs."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import (
    echo_fields,
    emit_json,
    follow_log,
    show_run,
    table,
    wait_for_run,
)
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["jobs"]


@cli.group(cls=AimassGroup)
def jobs() -> None:
    """List, show, cancel and resume jobs; print their logs (logs JOB_ID --follow streams a
    log until the job ends)."""


@jobs.command("list")
@click.option("--state", help="Only jobs in this state.")
@click.option("--kind", help="Only jobs of this kind (train, …).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def jobs_list(
    ctx: click.Context, state: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List jobs, newest first."""
    manager = workspace_of(ctx).jobs
    items = [j.to_dict() for j in manager.list(kind=kind, state=state, limit=limit)]
    if as_json:
        emit_json(items)
    else:
        for item in items:
            progress = item["progress"]
            item["progress"] = "-" if progress is None else f"{100 * progress:.0f}%"
            item["name"] = item["label"]  # an unnamed job: what it works on and its short id
        table(items, ["id", "kind", "name", "state", "progress", "created_at", "exit_reason"])


@jobs.command("show")
@click.argument("job_id")
@json_option
@click.pass_context
def jobs_show(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Show one job."""
    doc = workspace_of(ctx).jobs.get(job_id).to_dict()
    if as_json:
        emit_json(doc)
    else:
        echo_fields(doc)


@jobs.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--tail", type=int, help="Only the last N lines.")
@click.pass_context
def jobs_logs(ctx: click.Context, job_id: str, follow: bool, tail: int | None) -> None:
    """Print a job's log; with --follow, keep printing its new lines until the job ends."""
    manager = workspace_of(ctx).jobs
    job = manager.get(job_id)
    text = manager.logs(job.id, tail=tail)
    click.echo(text, nl=not text.endswith("\n"))
    if follow:
        path = manager.log_path(job.id)
        follow_log(manager, job.id, path.stat().st_size if path.exists() else 0)


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: str) -> None:
    """Cancel a job (training saves a checkpoint and becomes 'interrupted')."""
    job = workspace_of(ctx).jobs.cancel(job_id)
    click.echo(f"job {job.id}: cancel requested ({job.state})")


@jobs.command("resume")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for it to end.")
@json_option
@click.pass_context
def jobs_resume(ctx: click.Context, job_id: str, wait: bool, as_json: bool) -> None:
    """Resume an interrupted job from its last checkpoint."""
    from aimass_lab.train import Run

    ws = workspace_of(ctx)
    job = ws.jobs.get(job_id)
    if job.kind == "train":
        run = Run(job.id, ws).resume()
        if wait:
            wait_for_run(run, as_json)
        show_run(run, as_json)
        if wait and run.status != "succeeded":
            ctx.exit(1)
    else:
        job = ws.jobs.resume(job.id)
        click.echo(f"job {job.id}: {job.state}")
