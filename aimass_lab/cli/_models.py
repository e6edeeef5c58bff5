"""``aimass models ...``: the model registry (versions, aliases, integrity, archives) and
``aimass models export-triton``, ``aimass models export-kserve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import echo_fields, emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["models", "pretrained_row", "resolve_pretrained"]


@cli.group(cls=AimassGroup)
def models() -> None:
    """The model registry (versions, aliases, integrity, archives) and local pretrained models."""


def pretrained_row(info: Any) -> dict[str, Any]:
    """A :class:`~aimass_lab.models.PretrainedInfo` as a row: its fields, its folder
    ``name`` and ``input`` (``max_length 512`` or ``image 224px``)."""
    return {**info.to_dict(), "name": info.name, "input": info.input_text}


def resolve_pretrained(value: str, param_hint: str, base: Path | None = None) -> Any:
    """The PretrainedInfo of ``value``: a model folder, or the name of a sub-folder of the
    models folder (``AIMASS_MODELS_DIR`` or ``<workspace>/pretrained``, or ``base``).

    A folder that is not a model is a usage error (exit code 2) naming what was wrong and
    what is accepted."""
    from aimass_lab.errors import AimassError
    from aimass_lab.models import find_pretrained, inspect_pretrained

    folder = Path(value).expanduser()
    if not folder.exists() and base is not None and (base / value).exists():
        folder = base / value
    try:
        return inspect_pretrained(folder)
    except AimassError as exc:
        names = [i.name for i in find_pretrained(base)] if base else []
        known = f"; models in {base}: {', '.join(names)}" if names else ""
        raise click.BadParameter(f"{exc}{known}", param_hint=param_hint) from None


@models.command("pretrained")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    help="Folder of model sub-folders [default: $AIMASS_MODELS_DIR, or <workspace>/pretrained].",
)
@json_option
@click.pass_context
def models_pretrained(ctx: click.Context, folder: str | None, as_json: bool) -> None:
    """List the local pretrained models (Transformers folders) that training can fine-tune.

    \b
    Each sub-folder of the models folder written by save_pretrained (config.json and
    safetensors weights) is one model; train it with
      aimass train --data reviews --pretrained NAME --set finetune=lora --set lora_rank=8
    """
    from aimass_lab.models import find_pretrained, human_count, human_size

    root = Path(folder).expanduser() if folder else _models_folder(ctx)
    if folder and not root.is_dir():
        raise click.BadParameter(
            f"folder not found: {root}; accepted: a folder whose sub-folders are models "
            "written by save_pretrained",
            param_hint="--dir",
        )
    rows = [pretrained_row(info) for info in find_pretrained(root)]
    if as_json:
        emit_json({"dir": str(root), "models": rows})
        return
    click.echo(f"pretrained models in {root}:")
    for row in rows:
        row["params"] = human_count(row["parameters"])
        row["size"] = human_size(row["size_bytes"])
        row["tok"] = "yes" if row["tokenizer"] else "no"
    table(rows, ["name", "kind", "model_type", "params", "size", "input", "tok"])


def _models_folder(ctx: click.Context) -> Path:
    """The models folder of the command's workspace (``AIMASS_MODELS_DIR`` first)."""
    from aimass_lab.models import models_dir

    return models_dir(workspace_of(ctx).path)


@models.command("list")
@click.argument("name", required=False)
@json_option
@click.pass_context
def models_list(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List model versions (of NAME, or all)."""
    from aimass_lab._listings import model_rows

    rows, columns = model_rows(workspace_of(ctx), name)
    if as_json:
        emit_json(rows)
    else:
        table(rows, columns)


@models.command("register")
@click.argument("run_id")
@click.argument("name")
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    help="Also point this alias at the new version (repeatable).",
)
@click.option("--description")
@json_option
@click.pass_context
def models_register(
    ctx: click.Context,
    run_id: str,
    name: str,
    aliases: tuple[str, ...],
    description: str | None,
    as_json: bool,
) -> None:
    """Register the model of a succeeded run as the next version of NAME."""
    from aimass_lab import registry

    mv = registry.register(
        run_id, name, aliases=aliases, description=description, workspace=workspace_of(ctx)
    )
    if as_json:
        emit_json(mv.to_dict())
    else:
        click.echo(f"registered {mv.ref}" + (f" ({', '.join(aliases)})" if aliases else ""))


@models.command("show")
@click.argument("ref")
@json_option
@click.pass_context
def models_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a version: spec, metrics, lineage, files."""
    from aimass_lab import registry

    doc = registry.get(ref, workspace=workspace_of(ctx)).to_dict()
    if as_json:
        emit_json(doc)
    else:
        echo_fields(doc)


@models.command("verify")
@click.argument("ref")
@json_option
@click.pass_context
def models_verify(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Check every file of a version against its sha256 manifest."""
    from aimass_lab import registry

    doc = registry.verify(ref, workspace=workspace_of(ctx))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"{ref}: OK, {len(doc.get('files', doc))} files verified")


@models.command("alias")
@click.argument("ref")
@click.argument("alias")
@click.option(
    "--remove", is_flag=True, help="Remove the alias instead (REF is then the model name)."
)
@click.pass_context
def models_alias(ctx: click.Context, ref: str, alias: str, remove: bool) -> None:
    """Point ALIAS (prod, staging, …) at version REF (name:version)."""
    from aimass_lab import registry

    ws = workspace_of(ctx)
    if remove:
        registry.remove_alias(ref.split(":")[0], alias, workspace=ws)
        click.echo(f"alias {alias!r} removed from {ref.split(':')[0]}")
    else:
        mv = registry.set_alias(ref, alias, workspace=ws)
        click.echo(f"{mv.name}:{alias} -> {mv.ref}")


@models.command("export")
@click.argument("ref")
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def models_export(ctx: click.Context, ref: str, path: str) -> None:
    """Write version REF as one archive file."""
    from aimass_lab import registry

    out = registry.export(ref, path, workspace=workspace_of(ctx))
    click.echo(f"exported {ref} to {out}")


@models.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", help="Register under this name instead of the archive's.")
@json_option
@click.pass_context
def models_import(ctx: click.Context, path: str, name: str | None, as_json: bool) -> None:
    """Import an archive as a new version (entries and hashes are checked first)."""
    from aimass_lab import registry

    mv = registry.import_(path, name=name, workspace=workspace_of(ctx))
    if as_json:
        emit_json(mv.to_dict())
    else:
        click.echo(f"imported {path} as {mv.ref}")


@models.command("delete")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def models_delete(ctx: click.Context, ref: str, yes: bool) -> None:
    """Delete version REF and its aliases."""
    from aimass_lab import registry

    if not yes:
        click.confirm(f"delete {ref}?", abort=True)
    registry.delete(ref, workspace=workspace_of(ctx))
    click.echo(f"deleted {ref}")


@models.command("export-triton")
@click.argument("ref", metavar="NAME:VERSION")
@click.argument("directory", type=click.Path(file_okay=False), metavar="DIR")
@click.option("--as", "as_name", metavar="NAME", help="Triton model name [registry name].")
@click.option("--max-batch-size", type=int, default=32, show_default=True)
@click.option("--max-delay-ms", type=float, default=2.0, show_default=True)
@json_option
@click.pass_context
def models_export_triton(
    ctx: click.Context,
    ref: str,
    directory: str,
    as_name: str | None,
    max_batch_size: int,
    max_delay_ms: float,
    as_json: bool,
) -> None:
    """Write NAME:VERSION as a Triton model repository entry in DIR.

    \b
    DIR/NAME/config.pbtxt, DIR/NAME/VERSION/model.onnx (ONNX exported first if needed).
    Serve it with: tritonserver --model-repository DIR
    """
    from aimass_lab.serve import export_triton

    target = export_triton(
        ref,
        directory,
        name=as_name,
        max_batch_size=max_batch_size,
        max_delay_ms=max_delay_ms,
        workspace=workspace_of(ctx),
    )
    files = sorted(str(p.relative_to(target.parent)) for p in target.rglob("*") if p.is_file())
    if as_json:
        emit_json({"ref": ref, "path": str(target), "files": files})
    else:
        click.echo(f"exported {ref} to {target}:")
        for f in files:
            click.echo(f"  {f}")


@models.command("export-kserve")
@click.argument("ref", metavar="NAME:VERSION")
@click.argument("directory", type=click.Path(file_okay=False), metavar="DIR")
@click.option("--name", "isvc_name", metavar="NAME", help="InferenceService name [registry name].")
@click.option(
    "--storage-uri",
    metavar="URI",
    help="Where model-repository/ will be (gs://, s3://, pvc://, https://...) "
    "[pvc://aimass-models/model-repository].",
)
@click.option("--min-replicas", type=int, default=1, show_default=True)
@click.option("--max-replicas", type=int, default=None)
@json_option
@click.pass_context
def models_export_kserve(
    ctx: click.Context,
    ref: str,
    directory: str,
    isvc_name: str | None,
    storage_uri: str | None,
    min_replicas: int,
    max_replicas: int | None,
    as_json: bool,
) -> None:
    """Write an ONNX version NAME:VERSION as a KServe InferenceService in DIR (new or empty).

    \b
    DIR/inference-service.yaml      kubectl apply -f it
    DIR/model-repository/NAME/...   copy it to --storage-uri (Triton's layout)
    """
    from aimass_lab.serve import export_kserve

    target = export_kserve(
        ref,
        directory,
        name=isvc_name,
        storage_uri=storage_uri,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        workspace=workspace_of(ctx),
    )
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    if as_json:
        emit_json({"ref": ref, "path": str(target), "files": files})
    else:
        click.echo(f"exported {ref} to {target}:")
        for f in files:
            click.echo(f"  {f}")
        click.echo("then: copy model-repository/ to the storage URI; kubectl apply -f "
                   f"{target / 'inference-service.yaml'}")  # fmt: skip
