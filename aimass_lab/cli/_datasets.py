"""``aimass datasets ...``: built-in and registered datasets."""

from __future__ import annotations

from pathlib import Path

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import echo_fields, emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["datasets"]


@cli.group(cls=AimassGroup)
def datasets() -> None:
    """Built-in and registered datasets."""


@datasets.command("list")
@json_option
@click.pass_context
def datasets_list(ctx: click.Context, as_json: bool) -> None:
    """List built-in and registered datasets."""
    from aimass_lab import data

    items = data.list(workspace=workspace_of(ctx))
    if as_json:
        emit_json(items)
    else:
        table(items, ["name", "source", "task", "registered", "description"])


@datasets.command("show")
@click.argument("name")
@json_option
@click.pass_context
def datasets_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a dataset: shapes, split sizes and its data report."""
    from aimass_lab import data

    dataset = data.load(name, workspace=workspace_of(ctx))
    doc = {"info": dataset.info(), "report": dataset.report().to_dict()}
    if as_json:
        emit_json(doc)
        return
    echo_fields(doc["info"])
    warnings = doc["report"].get("warnings") or []
    click.echo(f"warnings ({len(warnings)}):")
    for warning in warnings:
        click.echo(
            f"  - {warning if isinstance(warning, str) else warning.get('message', warning)}"
        )


@datasets.command("add")
@click.argument("name")
@click.option(
    "--source",
    default="csv",
    show_default=True,
    help="csv, parquet, image_folder, sql, or a plugin.",
)
@click.option("--path", help="File or folder (csv, parquet, image_folder).")
@click.option("--url", help="SQLAlchemy URL (sql).")
@click.option("--query", help="SELECT statement (sql).")
@click.option("--target", help="Column to predict.")
@click.option("--task", type=click.Choice(["classification", "regression"]))
@click.option("--description")
@click.option("--config", "-c", type=click.Path(dir_okay=False), help="A DataSpec YAML/JSON file.")
@json_option
@click.pass_context
def datasets_add(
    ctx: click.Context,
    name: str,
    source: str,
    path: str | None,
    url: str | None,
    query: str | None,
    target: str | None,
    task: str | None,
    description: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Register a dataset under NAME (data is checked and fingerprinted)."""
    from aimass_lab import data
    from aimass_lab.specs import DataSpec

    if config:
        spec = DataSpec.from_yaml(config)
    else:
        if path and source in ("csv", "parquet", "image_folder"):
            path = str(Path(path).expanduser().resolve())
        fields = {
            "source": source,
            "path": path,
            "url": url,
            "query": query,
            "target": target,
            "task": task,
        }
        spec = DataSpec(**{k: v for k, v in fields.items() if v is not None})
    dataset = data.add(name, spec, workspace=workspace_of(ctx), description=description)
    if as_json:
        emit_json(dataset.info())
    else:
        click.echo(f"dataset {name!r} registered (fingerprint {dataset.fingerprint[:12]})")
