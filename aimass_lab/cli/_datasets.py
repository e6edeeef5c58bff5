"""``aimass datasets ...``: built-in and registered datasets.

Commands that read data (``show``, ``add``, ``samples``) stream the progress of long passes
(file scans, fingerprints, reports): a bar on a terminal, plain ``[aimass] ...`` lines
otherwise; with ``--json`` only a terminal gets it, so the output stays one JSON document.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from aimass_lab.cli._options import field_option, given, json_option
from aimass_lab.cli._output import echo_fields, emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of
from aimass_lab.specs import DataSpec

__all__ = ["datasets"]


#: Table columns ``aimass datasets samples`` shows of a table's rows.
MAX_SAMPLE_COLUMNS = 8


@cli.group(cls=AimassGroup)
def datasets() -> None:
    """Built-in and registered datasets."""


def stream_progress(as_json: bool) -> None:
    """Show the progress of long data passes: ``auto`` (a bar on a terminal, else lines);
    with ``--json`` a bar on a terminal or nothing, so that stdout stays JSON."""
    from aimass_lab import data

    if not as_json:
        data.set_progress("auto")
    else:
        data.set_progress("bar" if sys.stderr.isatty() else "off")


@datasets.command("list")
@json_option
@click.pass_context
def datasets_list(ctx: click.Context, as_json: bool) -> None:
    """List built-in and registered datasets."""
    from aimass_lab._listings import dataset_rows

    rows, columns = dataset_rows(workspace_of(ctx))
    if as_json:
        emit_json(rows)
    else:
        table(rows, columns)


@datasets.command("show")
@click.argument("name")
@json_option
@click.pass_context
def datasets_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a dataset: shapes, split sizes and its data report."""
    from aimass_lab import data

    stream_progress(as_json)
    dataset = data.load(name, workspace=workspace_of(ctx))
    doc = {"info": dataset.info(), "report": dataset.report().to_dict()}
    if as_json:
        emit_json(doc)
        return
    echo_fields(doc["info"])
    if doc["report"].get("sample"):
        click.echo(f"sampled: {doc['report']['sample']}")
    if doc["report"].get("selection"):
        click.echo(f"feature selection: {doc['report']['selection']['text']}")
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
    help="csv, parquet, jsonl, hf, image_folder, sql, or a plugin.",
)
@field_option(
    DataSpec, "path", "--path", help="File or folder (csv, parquet, jsonl, hf, image_folder)"
)
@field_option(DataSpec, "url", "--url")
@field_option(DataSpec, "query", "--query")
@field_option(
    DataSpec,
    "target",
    "--target",
    help="Column to predict (csv/parquet: default the column named label, target, class or y).",
)
@field_option(DataSpec, "task", "--task", help="Inferred when not given")
@field_option(DataSpec, "text", "--text")
@field_option(DataSpec, "image_size", "--image-size")
@field_option(DataSpec, "on_bad_record", "--on-bad-record")
@click.option(
    "--streaming",
    type=click.Choice(["auto", "true", "false"]),
    help="Read tables in Arrow record batches instead of memory [default: auto: when large].",
)
@click.option(
    "--tokenizer",
    "tokenizer_path",
    type=click.Path(),
    help="Local folder with tokenizer.json (text); default: one trained on the training part.",
)
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
    streaming: str | None,
    tokenizer_path: str | None,
    **flags: Any,
) -> None:
    """Register a dataset under NAME (data is checked and fingerprinted)."""
    from aimass_lab import data

    stream_progress(as_json)
    if config:
        spec = DataSpec.from_yaml(config)
    else:
        path = flags["path"]
        if path and flags["source"] in ("csv", "parquet", "jsonl", "hf", "image_folder"):
            flags["path"] = str(Path(path).expanduser().resolve())
        fields = given(flags)
        if streaming is not None:
            fields["streaming"] = streaming if streaming == "auto" else streaming == "true"
        if tokenizer_path is not None:
            fields["tokenizer"] = {"path": str(Path(tokenizer_path).expanduser().resolve())}
        spec = DataSpec(**fields)
    dataset = data.add(name, spec, workspace=workspace_of(ctx), description=description)
    if as_json:
        emit_json(dataset.info())
    else:
        click.echo(f"dataset {name!r} registered (fingerprint {dataset.fingerprint[:12]})")


@datasets.command("samples")
@click.argument("name")
@click.option(
    "--part",
    type=click.Choice(["train", "val", "test"]),
    default="train",
    show_default=True,
    help="The part of the split.",
)
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--limit", type=click.IntRange(1, 100), default=12, show_default=True, help="Rows shown."
)
@json_option
@click.pass_context
def datasets_samples(
    ctx: click.Context, name: str, part: str, start: int, limit: int, as_json: bool
) -> None:
    """Print a page of NAME's samples (only those rows are read).

    Images show their file and label, tables their raw cells, text its beginning; --json
    prints the page as the REST API gives it (thumbnails as PNG data: URIs).
    """
    from aimass_lab import data

    stream_progress(as_json)
    page = data.load(name, workspace=workspace_of(ctx)).preview(part, start, limit)
    if as_json:
        emit_json(page)
        return
    rows = page["rows"]
    click.echo(
        f"{name} {part}: rows {start + 1} to {start + len(rows)} of {page['total']} ({page['kind']})"
        if rows
        else f"{name} {part}: no rows"
    )
    if not rows:
        return
    if page["kind"] == "image":
        flat = [
            {
                "index": r["index"],
                "label": r["label"],
                "path": r.get("path", "(in memory)"),
                "error": r.get("error"),
            }
            for r in rows
        ]
        errors = ["error"] if any(r.get("error") for r in rows) else []
        table(flat, ["index", "label", "path", *errors])
        return
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row.get("values") or {} if c not in columns]
    shown = columns[:MAX_SAMPLE_COLUMNS]
    text = ["text"] if any("text" in r for r in rows) else []
    flat = [
        {
            "index": r["index"],
            "label": r["label"],
            "text": _short(r.get("text")),
            **{c: (r.get("values") or {}).get(c) for c in shown},
        }
        for r in rows
    ]
    table(flat, ["index", "label", *text, *shown])
    if len(columns) > len(shown):
        click.echo(f"({len(columns) - len(shown)} more column(s); --json shows every one)")


def _short(text: str | None, limit: int = 60) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
