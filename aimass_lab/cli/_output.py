"""How the commands print: one JSON document, aligned tables and ``key  value`` lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

from aimass_lab._listings import cell

__all__ = ["echo_fields", "emit_json", "fmt", "show_run", "table"]


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
