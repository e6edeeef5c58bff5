"""``aimass datasets ...``: built-in and registered datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from aimass_lab.cli._options import field_option, given, json_option
from aimass_lab.cli._output import echo_fields, emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of
from aimass_lab.specs import DataSpec

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
@field_option(
    DataSpec,
    "source",
    "--source",
    default="csv",
    show_default=True,
    help="csv, parquet, image_folder, sql, or a plugin.",
)
@field_option(DataSpec, "path", "--path", help="File or folder (csv, parquet, image_folder)")
@field_option(DataSpec, "url", "--url")
@field_option(DataSpec, "query", "--query")
@field_option(DataSpec, "target", "--target", help="Column to predict")
@field_option(DataSpec, "task", "--task", help="Inferred when not given")
@click.option("--description")
@click.option("--config", "-c", type=click.Path(dir_okay=False), help="A DataSpec YAML/JSON file.")
@json_option
@click.pass_context
def datasets_add(
    ctx: click.Context,
    name: str,
    description: str | None,
    config: str | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Register a dataset under NAME (data is checked and fingerprinted)."""
    from aimass_lab import data

    if config:
        spec = DataSpec.from_yaml(config)
    else:
        path = flags["path"]
        if path and flags["source"] in ("csv", "parquet", "image_folder"):
            flags["path"] = str(Path(path).expanduser().resolve())
        spec = DataSpec(**given(flags))
    dataset = data.add(name, spec, workspace=workspace_of(ctx), description=description)
    if as_json:
        emit_json(dataset.info())
    else:
        click.echo(f"dataset {name!r} registered (fingerprint {dataset.fingerprint[:12]})")
