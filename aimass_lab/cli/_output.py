"""How the commands print: one JSON document, aligned tables and ``key  value`` lines."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

import click

from aimass_lab._listings import cell

__all__ = [
    "echo_fields",
    "emit_json",
    "fmt",
    "follow_log",
    "on_terminal",
    "show_run",
    "table",
    "wait_for_run",
]


def emit_json(doc: Any) -> None:
    """Print ``doc`` as one indented JSON document (what ``--json`` prints)."""
    click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))


def table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Print ``columns`` of ``rows`` as an aligned table, or ``(none)``."""
    rows = list(rows)
    if not rows:
        click.echo("(none)")
        return
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def fmt(value: Any) -> str:
    """One table cell: ``-`` for None, floats to 4 significant digits, lists comma-joined."""
    return cell(value)


def echo_fields(doc: dict[str, Any]) -> None:
    """Print a document as aligned ``key  value`` lines (mappings and lists as JSON)."""
    width = max((len(k) for k in doc), default=0) + 2
    for key, value in doc.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else fmt(value)
        click.echo(f"{key:<{width}}{shown}")


def show_run(run: Any, as_json: bool) -> None:
    """Print a training run: its state and last metrics (``aimass train``, ``runs show``)."""
    doc = run.to_dict()
    if as_json:
        emit_json(doc)
        return
    click.echo(
        f"run {doc['id']}: {doc['state']}"
        + (f" ({doc['exit_reason']})" if doc["exit_reason"] else "")
    )
    for key, value in sorted(doc["summary"].items()):
        click.echo(f"  {key:<22} {value:.4f}")
    if doc["state"] in ("queued", "running"):
        click.echo(f"follow it with: aimass jobs logs {doc['id']} -f")


def on_terminal() -> bool:
    """Whether both stdout and stderr are terminals (a progress bar may redraw itself)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def follow_log(manager: Any, job_id: str, position: int = 0, poll: float = 0.5) -> None:
    """Print a job's log from byte ``position`` as it grows, until the job has ended.

    Parameters
    ----------
    manager
        The workspace's job manager.
    job_id
        The job.
    position
        Where to start in the log file (0: from its first line).
    poll
        Seconds between two looks at the log.
    """
    path = manager.log_path(job_id)
    while True:
        active = manager.get(job_id).active  # read before the log: its last lines come after
        if path.exists():
            with open(path, "rb") as fh:
                fh.seek(position)
                chunk = fh.read()
            position += len(chunk)
            if chunk:
                click.echo(chunk.decode(errors="replace"), nl=False)
                sys.stdout.flush()
        if not active:
            return
        time.sleep(poll)


def wait_for_run(run: Any, as_json: bool) -> None:
    """Wait for a run to end: a progress bar on a terminal; otherwise (output to a file or a
    pipe) the job's log as plain lines while it runs (epochs, metrics, warnings); nothing
    with ``--json``."""
    if as_json:
        run.wait()
    elif on_terminal():
        run.wait(progress=True)
    else:
        follow_log(run.workspace.jobs, run.id)
        run.wait()
