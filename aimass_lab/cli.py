"""The ``aimass`` command. Thin: it builds specs, calls the stages and reads the workspace.

Heavy modules (torch, lightning, pandas) are imported inside commands, so ``aimass --help``
starts fast.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from aimass_lab._version import __version__
from aimass_lab.errors import AimassError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["cli", "main"]


# ------------------------------------------------------------------------------------ helpers
class _Group(click.Group):
    """A group that turns AimassError into a clean one-line error and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AimassError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


def _ws(ctx: click.Context) -> Any:
    from aimass_lab.workspace import Workspace

    obj = ctx.find_root().obj or {}
    if "workspace" not in obj:
        obj["workspace"] = Workspace(obj.get("path"), db_url=obj.get("db_url"))
        ctx.find_root().obj = obj
    return obj["workspace"]


def _emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=True, default=str))


def _table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    rows = list(rows)
    if not rows:
        click.echo("(none)")
        return
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ",".join(_fmt(v) for v in value)
    return str(value)


def _echo_fields(doc: dict[str, Any]) -> None:
    """Print a document as aligned ``key  value`` lines (mappings and lists as JSON)."""
    width = max((len(k) for k in doc), default=0) + 2
    for key, value in doc.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else _fmt(value)
        click.echo(f"{key:<{width}}{shown}")


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value) if value else value
    return out


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)  # type: ignore[return-value]


def _images_option(func: F) -> F:
    return click.option(  # type: ignore[return-value]
        "--images", is_flag=True, help="Give 'digits' as 1x8x8 images (for cnn/resnet)."
    )(func)


def _config_option(spec: str) -> Callable[[F], F]:
    """``--config/-c FILE``: a YAML/JSON file of ``spec`` that the command's flags override."""
    return click.option(  # type: ignore[return-value]
        "--config",
        "-c",
        type=click.Path(dir_okay=False),
        help=f"A {spec} YAML/JSON file; flags override it.",
    )


def _training_args(
    ws: Any,
    base: dict[str, Any],
    data: str | None,
    model: str | None,
    images: bool,
    hparams: dict[str, Any],
) -> tuple[Any, Any, dict[str, Any]]:
    """The data and model of a training (the flags over the spec's fields ``base``), and the
    other fields of ``base`` less the training ones that ``--set`` (``hparams``) gives anew."""
    from aimass_lab.specs import TRAIN_HPARAMS

    data_arg: Any = data if data is not None else base.get("data")
    if images:
        from aimass_lab.data import resolve_spec

        data_arg = resolve_spec(data_arg, workspace=ws).model_copy(update={"as_images": True})
    model_arg: Any = model if model is not None else base.get("model", "mlp")
    dropped = {"data", "model", *(k for k in hparams if k in TRAIN_HPARAMS)}
    fields = {k: v for k, v in base.items() if k not in dropped}
    return data_arg, model_arg, fields


# --------------------------------------------------------------------------------------- root
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aimass")
@click.option(
    "--workspace",
    "-w",
    "path",
    envvar="AIMASS_HOME",
    type=click.Path(file_okay=False),
    help="Workspace folder [default: ./aimass-workspace, or $AIMASS_HOME].",
)
@click.option(
    "--db-url",
    envvar="AIMASS_DB_URL",
    help="Metadata store URL (SQLite or PostgreSQL) [$AIMASS_DB_URL].",
)
@click.pass_context
def cli(ctx: click.Context, path: str | None, db_url: str | None) -> None:
    """AI Mass Lab: data -> train -> registry, from a terminal.

    Every long piece of work runs as a job in the workspace; the notebook, this command
    and JupyterLab all see the same jobs, runs and models.
    """
    ctx.obj = {"path": path, "db_url": db_url}


# -------------------------------------------------------------------------------------- train
@cli.command()
@click.option("--data", "-d", help="Built-in or registered dataset name.")
@click.option(
    "--model",
    "-m",
    help="Zoo model (mlp, cnn, resnet, gru, lstm, transformer) or package.module:Class.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="A model or training hyperparameter (repeatable): --set hidden=128 --set lr=0.001.",
)
@click.option("--epochs", type=int, help="max_epochs.")
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--devices", help="'auto', a count, -1 for all, or a comma list of GPU indices.")
@click.option("--accelerator", type=click.Choice(["auto", "cpu", "gpu", "cuda", "mps"]))
@click.option("--strategy", help="Lightning strategy: auto, ddp, ddp_spawn, fsdp, …")
@click.option("--num-nodes", type=int, help="Machines, under torchrun or SLURM.")
@click.option("--precision", help="32-true, 16-mixed, bf16-mixed, …")
@click.option("--seed", type=int)
@click.option("--early-stopping", "early", is_flag=True, help="Stop when val_loss stops improving.")
@_images_option
@click.option("--name", help="A label for the run.")
@_config_option("TrainSpec")
@click.option("--wait", is_flag=True, help="Wait for the run to end, with a progress bar.")
@click.option(
    "--no-launch",
    is_flag=True,
    help="Only record the job (queued), for torchrun/SLURM to start on every node.",
)
@json_option
@click.pass_context
def train(
    ctx: click.Context,
    data: str | None,
    model: str | None,
    sets: tuple[str, ...],
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    devices: str | None,
    accelerator: str | None,
    strategy: str | None,
    num_nodes: int | None,
    precision: str | None,
    seed: int | None,
    early: bool,
    images: bool,
    name: str | None,
    config: str | None,
    wait: bool,
    no_launch: bool,
    as_json: bool,
) -> None:
    """Train a model as a background job.

    \b
    aimass train --data digits --model mlp --set hidden=128 --set lr=0.001 --epochs 5 --wait
    aimass train --data digits --model mlp --devices 2 --accelerator cpu --strategy ddp --wait
    aimass train --config train.yaml --epochs 20
    """
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train import train as train_fn

    ws = _ws(ctx)
    base: dict[str, Any] = TrainSpec.from_yaml(config).to_dict() if config else {}
    if data is None and not base:
        raise click.UsageError("give --data NAME or --config FILE")
    hparams = _parse_sets(sets)
    data_arg, model_arg, fields = _training_args(ws, base, data, model, images, hparams)
    dev: Any = devices
    if devices and "," in devices:
        dev = [int(d) for d in devices.split(",")]
    overrides = {
        "max_epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "devices": dev,
        "accelerator": accelerator,
        "strategy": strategy,
        "num_nodes": num_nodes,
        "precision": precision,
        "seed": seed,
        "name": name,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if early:
        fields["early_stopping"] = True
    run = train_fn(
        data_arg, model_arg, hparams=hparams, workspace=ws, launch=not no_launch, **fields
    )
    if no_launch:
        if as_json:
            _emit_json(run.to_dict())
        else:
            click.echo(
                f"job {run.id} queued; on every node run:\n"
                f"  python -m aimass_lab.workspace._runner {ws.path} {run.id}"
            )
        return
    if wait:
        run.wait(progress=not as_json)
    _show_run(run, as_json)
    if wait and run.status != "succeeded":
        ctx.exit(1)


def _show_run(run: Any, as_json: bool) -> None:
    doc = run.to_dict()
    if as_json:
        _emit_json(doc)
        return
    click.echo(
        f"run {doc['id']}: {doc['state']}"
        + (f" ({doc['exit_reason']})" if doc["exit_reason"] else "")
    )
    for key, value in sorted(doc["summary"].items()):
        click.echo(f"  {key:<22} {value:.4f}")
    if doc["state"] in ("queued", "running"):
        click.echo(f"follow it with: aimass jobs logs {doc['id']} -f")


# --------------------------------------------------------------------------------------- jobs
@cli.group(cls=_Group)
def jobs() -> None:
    """List, follow, cancel and resume jobs."""


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
    items = [j.to_dict() for j in _ws(ctx).jobs.list(kind=kind, state=state, limit=limit)]
    if as_json:
        _emit_json(items)
    else:
        for item in items:
            item["progress"] = f"{100 * (item['progress'] or 0):.0f}%"
        _table(items, ["id", "kind", "name", "state", "progress", "created_at", "exit_reason"])


@jobs.command("show")
@click.argument("job_id")
@json_option
@click.pass_context
def jobs_show(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Show one job."""
    doc = _ws(ctx).jobs.get(job_id).to_dict()
    if as_json:
        _emit_json(doc)
    else:
        _echo_fields(doc)


@jobs.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--tail", type=int, help="Only the last N lines.")
@click.pass_context
def jobs_logs(ctx: click.Context, job_id: str, follow: bool, tail: int | None) -> None:
    """Print a job's log."""
    manager = _ws(ctx).jobs
    job = manager.get(job_id)
    text = manager.logs(job.id, tail=tail)
    click.echo(text, nl=not text.endswith("\n"))
    if not follow:
        return
    path = manager.log_path(job.id)
    position = path.stat().st_size if path.exists() else 0
    while True:
        active = manager.get(job.id).active
        if path.exists():
            with open(path, "rb") as fh:
                fh.seek(position)
                chunk = fh.read()
                position += len(chunk)
            if chunk:
                click.echo(chunk.decode(errors="replace"), nl=False)
        if not active:
            break
        time.sleep(0.5)


@jobs.command("cancel")
@click.argument("job_id")
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: str) -> None:
    """Cancel a job (training saves a checkpoint and becomes 'interrupted')."""
    job = _ws(ctx).jobs.cancel(job_id)
    click.echo(f"job {job.id}: cancel requested ({job.state})")


@jobs.command("resume")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for it to end.")
@json_option
@click.pass_context
def jobs_resume(ctx: click.Context, job_id: str, wait: bool, as_json: bool) -> None:
    """Resume an interrupted job from its last checkpoint."""
    from aimass_lab.train import Run

    ws = _ws(ctx)
    job = ws.jobs.get(job_id)
    if job.kind == "train":
        run = Run(job.id, ws).resume()
        if wait:
            run.wait(progress=not as_json)
        _show_run(run, as_json)
        if wait and run.status != "succeeded":
            ctx.exit(1)
    else:
        job = ws.jobs.resume(job.id)
        click.echo(f"job {job.id}: {job.state}")


# --------------------------------------------------------------------------------------- runs
@cli.group(cls=_Group)
def runs() -> None:
    """Training runs and their metrics."""


@runs.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@click.pass_context
def runs_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List training runs with their latest metrics."""
    from aimass_lab.train import list_runs

    items = []
    for run in list_runs(_ws(ctx), limit=limit):
        job = run.job
        summary = run.summary
        items.append(
            {
                "id": job.id,
                "name": run.name,
                "state": job.state,
                "data": job.spec.get("data", {}).get("name"),
                "model": job.spec.get("model", {}).get("family"),
                "val_loss": summary.get("val_loss"),
                "val_acc": summary.get("val_acc"),
                "test_acc": summary.get("test_acc"),
                "created_at": job.created_at,
                "summary": summary,
            }
        )
    if as_json:
        _emit_json(items)
    else:
        _table(items, ["id", "name", "state", "data", "model", "val_loss", "val_acc", "test_acc"])


@runs.command("show")
@click.argument("run_id")
@json_option
@click.pass_context
def runs_show(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Show a run: spec, state and every metric's last value."""
    from aimass_lab.train import Run

    run = Run(run_id, _ws(ctx))
    doc = {**run.to_dict(), "run_dir": str(run.run_dir), "tensorboard": str(run.tensorboard_dir)}
    if as_json:
        _emit_json(doc)
    else:
        _show_run(run, False)
        click.echo(f"  folder: {doc['run_dir']}\n  tensorboard --logdir {doc['tensorboard']}")


# ----------------------------------------------------------------------------------- datasets
@cli.group(cls=_Group)
def datasets() -> None:
    """Built-in and registered datasets."""


@datasets.command("list")
@json_option
@click.pass_context
def datasets_list(ctx: click.Context, as_json: bool) -> None:
    """List built-in and registered datasets."""
    from aimass_lab import data

    items = data.list(workspace=_ws(ctx))
    if as_json:
        _emit_json(items)
    else:
        _table(items, ["name", "source", "task", "registered", "description"])


@datasets.command("show")
@click.argument("name")
@json_option
@click.pass_context
def datasets_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a dataset: shapes, split sizes and its data report."""
    from aimass_lab import data

    dataset = data.load(name, workspace=_ws(ctx))
    doc = {"info": dataset.info(), "report": dataset.report().to_dict()}
    if as_json:
        _emit_json(doc)
        return
    _echo_fields(doc["info"])
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
    dataset = data.add(name, spec, workspace=_ws(ctx), description=description)
    if as_json:
        _emit_json(dataset.info())
    else:
        click.echo(f"dataset {name!r} registered (fingerprint {dataset.fingerprint[:12]})")


# ------------------------------------------------------------------------------------- models
@cli.group(cls=_Group)
def models() -> None:
    """The model registry: versions, aliases, integrity, archives."""


def _version_row(mv: Any) -> dict[str, Any]:
    doc = mv.to_dict()
    metrics = doc.get("metrics") or {}
    doc["test_acc"] = metrics.get("test_acc")
    doc["val_acc"] = metrics.get("val_acc")
    return doc


@models.command("list")
@click.argument("name", required=False)
@json_option
@click.pass_context
def models_list(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List model versions (of NAME, or all)."""
    from aimass_lab import registry

    items = [_version_row(mv) for mv in registry.list(name, workspace=_ws(ctx))]
    if as_json:
        _emit_json(items)
    else:
        _table(items, ["ref", "aliases", "run_id", "val_acc", "test_acc", "created_at"])


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
        run_id, name, aliases=aliases, description=description, workspace=_ws(ctx)
    )
    if as_json:
        _emit_json(mv.to_dict())
    else:
        click.echo(f"registered {mv.ref}" + (f" ({', '.join(aliases)})" if aliases else ""))


@models.command("show")
@click.argument("ref")
@json_option
@click.pass_context
def models_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a version: spec, metrics, lineage, files."""
    from aimass_lab import registry

    doc = registry.get(ref, workspace=_ws(ctx)).to_dict()
    if as_json:
        _emit_json(doc)
    else:
        _echo_fields(doc)


@models.command("verify")
@click.argument("ref")
@json_option
@click.pass_context
def models_verify(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Check every file of a version against its sha256 manifest."""
    from aimass_lab import registry

    doc = registry.verify(ref, workspace=_ws(ctx))
    if as_json:
        _emit_json(doc)
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

    ws = _ws(ctx)
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

    out = registry.export(ref, path, workspace=_ws(ctx))
    click.echo(f"exported {ref} to {out}")


@models.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", help="Register under this name instead of the archive's.")
@json_option
@click.pass_context
def models_import(ctx: click.Context, path: str, name: str | None, as_json: bool) -> None:
    """Import an archive as a new version (entries and hashes are checked first)."""
    from aimass_lab import registry

    mv = registry.import_(path, name=name, workspace=_ws(ctx))
    if as_json:
        _emit_json(mv.to_dict())
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
    registry.delete(ref, workspace=_ws(ctx))
    click.echo(f"deleted {ref}")


# ------------------------------------------------------------------------------------- search
@cli.group(cls=_Group, invoke_without_command=True)
@click.option("--data", "-d", help="Built-in or registered dataset name.")
@click.option("--model", "-m", help="Base zoo model (mlp, cnn, ...) [default: mlp].")
@click.option(
    "--space",
    type=click.Path(dir_okay=False),
    help="YAML file: NAME: {type: int|float|categorical, low, high, log, step, choices}.",
)
@click.option(
    "--objective",
    "objectives",
    multiple=True,
    metavar="METRIC:min|max",
    help="Repeatable: val_acc:max, val_loss:min, params:min, size_kb:min, latency_ms:min.",
)
@click.option("--sampler", help="random, grid, tpe, cmaes, gp, nsga2, qmc [default: tpe].")
@click.option(
    "--pruner",
    help="none, median, percentile, successive-halving, hyperband, wilcoxon (--cv) "
    "[default: median].",
)
@click.option("--trials", type=int, help="Trials in all workers [default: 20].")
@click.option("--timeout", type=float, help="Seconds for the whole search.")
@click.option("--parallel", type=int, help="Worker jobs [default: 1].")
@click.option("--seed", type=int, help="Seed of the sampler.")
@click.option("--cv", type=int, help="k-fold cross-validation: k runs per trial, averaged.")
@click.option("--study", help="Study name; an existing study of this name is resumed.")
@click.option("--storage", help="Optuna RDB URL (postgresql://...) [default: workspace journal].")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="A fixed model or training hyperparameter of the base training (repeatable).",
)
@click.option("--epochs", type=int, help="max_epochs of every trial.")
@_images_option
@_config_option("SearchSpec")
@click.option("--no-wait", is_flag=True, help="Start the workers and return at once.")
@click.option(
    "--register/--no-register",
    "do_register",
    default=True,
    show_default=True,
    help="Register the best model when the search ends (one objective).",
)
@click.option("--name", help="Registry name of the best model [default: the study name].")
@json_option
@click.pass_context
def search(
    ctx: click.Context,
    data: str | None,
    model: str | None,
    space: str | None,
    objectives: tuple[str, ...],
    sampler: str | None,
    pruner: str | None,
    trials: int | None,
    timeout: float | None,
    parallel: int | None,
    seed: int | None,
    cv: int | None,
    study: str | None,
    storage: str | None,
    sets: tuple[str, ...],
    epochs: int | None,
    images: bool,
    config: str | None,
    no_wait: bool,
    do_register: bool,
    name: str | None,
    as_json: bool,
) -> None:
    """Search hyperparameters: trials are trainings run by worker jobs.

    \b
    aimass search --data digits --model mlp --space space.yaml --objective val_acc:max \\
        --sampler tpe --pruner hyperband --trials 30 --parallel 2 --json
    aimass search list | show NAME | best NAME | register NAME | worker --study NAME
    """
    if ctx.invoked_subcommand is not None:
        return
    from aimass_lab.search import run_search
    from aimass_lab.specs import SearchSpec
    from aimass_lab.train import build_train_spec

    ws = _ws(ctx)
    base: dict[str, Any] = SearchSpec.from_yaml(config).to_dict() if config else {}
    if data is None and not base:
        raise click.UsageError("give --data NAME or --config FILE")
    if space is None and not base:
        raise click.UsageError("give --space FILE (or --config FILE)")
    train_base: dict[str, Any] = dict(base.get("train") or {})
    hparams = _parse_sets(sets)
    data_arg, model_arg, fields = _training_args(ws, train_base, data, model, images, hparams)
    if epochs is not None:
        fields["max_epochs"] = epochs
    train_spec = build_train_spec(data_arg, model_arg, hparams=hparams, workspace=ws, **fields)
    payload: dict[str, Any] = {k: v for k, v in base.items() if k != "train"}
    payload["train"] = train_spec
    if space is not None:
        from aimass_lab.search._api import _space_arg

        payload["space"] = _space_arg(space)
    overrides = {
        "objectives": list(objectives) or None,
        "sampler": sampler,
        "pruner": pruner,
        "n_trials": trials,
        "timeout": timeout,
        "parallel": parallel,
        "seed": seed,
        "cv": cv,
        "study": study,
        "storage": storage,
    }
    payload.update({k: v for k, v in overrides.items() if v is not None})
    handle = run_search(SearchSpec.from_dict(payload), ws)
    say = (lambda m: None) if as_json else click.echo
    say(f"study {handle.name}: {len(handle.workers)} worker job(s) started")
    if no_wait:
        if as_json:
            _emit_json(handle.to_dict())
        else:
            click.echo(f"follow it with: aimass search show {handle.name}")
        return
    handle.wait()
    doc = handle.to_dict()
    if do_register and len(handle.spec.objectives) == 1 and handle.best_trials:
        mv = handle.best_model(register=True, name=name)
        doc["registered"] = mv.ref
        say(f"registered trial {handle.best_trial.number} as {mv.ref}")
    if as_json:
        _emit_json(doc)
    else:
        _show_study(doc)
    if not any(t["state"] == "COMPLETE" for t in doc["trials"]):
        ctx.exit(1)


def _show_study(doc: dict[str, Any]) -> None:
    counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(doc["counts"].items()))
    click.echo(f"study {doc['study']}: {doc['status']} ({counts or 'no trials'})")
    click.echo(f"  objectives {', '.join(doc['objectives'])}; sampler {doc['sampler']}")
    best = set(doc["best_trials"])
    rows = [
        {
            "trial": t["number"],
            "state": t["state"],
            "values": t["values"],
            "best": "*" if t["number"] in best else "",
            "params": " ".join(f"{k}={_fmt(v)}" for k, v in t["params"].items()),
            "run": t["run_id"],
        }
        for t in doc["trials"]
    ]
    _table(rows, ["trial", "state", "values", "best", "params", "run"])


def _storage_option(func: F) -> F:
    return click.option(  # type: ignore[return-value]
        "--storage", help="Optuna RDB URL of the study [default: the workspace's journal]."
    )(func)


@search.command("list")
@_storage_option
@json_option
@click.pass_context
def search_list(ctx: click.Context, storage: str | None, as_json: bool) -> None:
    """List studies."""
    from aimass_lab.search import list_studies

    items = list_studies(storage, workspace=_ws(ctx))
    if as_json:
        _emit_json(items)
    else:
        _table(items, ["study", "n_trials", "objectives", "started"])


@search.command("show")
@click.argument("name")
@_storage_option
@json_option
@click.pass_context
def search_show(ctx: click.Context, name: str, storage: str | None, as_json: bool) -> None:
    """Show a study: status and every trial's state, params and values."""
    from aimass_lab.search import load_study

    doc = load_study(name, storage, _ws(ctx)).to_dict()
    if as_json:
        _emit_json(doc)
    else:
        _show_study(doc)


@search.command("best")
@click.argument("name")
@_storage_option
@json_option
@click.pass_context
def search_best(ctx: click.Context, name: str, storage: str | None, as_json: bool) -> None:
    """Show the best trial (the Pareto front for several objectives)."""
    from aimass_lab.search import load_study

    study = load_study(name, storage, _ws(ctx))
    chosen = study.best_trials
    if len(study.spec.objectives) == 1 and chosen:
        chosen = [study.best_trial]
    trials = [t.to_dict() for t in chosen]
    if as_json:
        _emit_json(trials)
        return
    if not trials:
        raise AimassError(f"study {name!r} has no complete trial yet")
    for t in trials:
        click.echo(f"trial {t['number']}: values {_fmt(t['values'])} run {t['run_id']}")
        for key, value in sorted(t["params"].items()):
            click.echo(f"  {key:<22} {_fmt(value)}")


@search.command("register")
@click.argument("name")
@click.option("--trial", type=int, help="Trial number [default: the best trial].")
@click.option("--model-name", help="Registry name [default: the study name].")
@click.option("--alias", "aliases", multiple=True, help="Alias to set (repeatable).")
@_storage_option
@json_option
@click.pass_context
def search_register(
    ctx: click.Context,
    name: str,
    trial: int | None,
    model_name: str | None,
    aliases: tuple[str, ...],
    storage: str | None,
    as_json: bool,
) -> None:
    """Register a trial's model with its lineage (study, trial, params, metrics)."""
    from aimass_lab.search import load_study

    study = load_study(name, storage, _ws(ctx))
    chosen = study.best_trial if trial is None else study.trial(trial)
    mv = study.register(chosen, model_name, aliases=aliases)
    if as_json:
        _emit_json(mv.to_dict())
    else:
        click.echo(f"registered trial {chosen.number} of {name} as {mv.ref}")


@search.command("worker")
@click.option("--study", "study_name", required=True, help="The study to join.")
@_storage_option
@click.pass_context
def search_worker(ctx: click.Context, study_name: str, storage: str | None) -> None:
    """Join a study as one more worker, in this terminal, until its budget is spent.

    \b
    aimass search worker --study digits-mlp --storage postgresql://user:pw@db-host/optuna
    """
    from aimass_lab.search._worker import join_study

    job_id, code = join_study(_ws(ctx), study_name, storage)
    click.echo(f"worker {job_id} ended")
    if code:
        ctx.exit(code)


@search.command("dashboard")
@click.argument("name")
@click.option("--port", type=int, default=8080, show_default=True)
@_storage_option
@click.pass_context
def search_dashboard(ctx: click.Context, name: str, port: int, storage: str | None) -> None:
    """Open optuna-dashboard on the study, on 127.0.0.1 only."""
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise AimassError(
            "the dashboard needs the optuna-dashboard package: pip install optuna-dashboard"
        ) from None
    from aimass_lab.search import load_study

    study = load_study(name, storage, _ws(ctx))
    click.echo(f"optuna-dashboard on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    run_server(study.optuna_study._storage, host="127.0.0.1", port=port)


# ----------------------------------------------------------------------------------- compress
@cli.command()
@click.argument("ref")
@click.option(
    "--method",
    "-m",
    "methods",
    multiple=True,
    required=True,
    help="A step, in order (repeatable): prune:structured:0.5, prune:unstructured:0.3, "
    "quantize:int8-dynamic, quantize:int8-static:per-channel, distill:student=mlp-small, "
    "low-rank:rank=16; key=value parts set fields (epochs=2).",
)
@click.option("--data", "-d", help="Dataset [default: the one the model was trained on].")
@click.option("--name", help="Registry name of the variants [default: the model's].")
@click.option("--runs", type=int, help="Timed runs at batch 1 per model [default: 50].")
@click.option("--threads", type=int, help="Threads of torch and ONNX Runtime while timing.")
@click.option(
    "--detach",
    is_flag=True,
    help="Run as a background job and print its id (follow it with: aimass jobs logs ID -f; "
    "the report is the job's result: aimass jobs show ID --json).",
)
@json_option
@click.pass_context
def compress(
    ctx: click.Context,
    ref: str,
    methods: tuple[str, ...],
    data: str | None,
    name: str | None,
    runs: int | None,
    threads: int | None,
    detach: bool,
    as_json: bool,
) -> None:
    """Compress a registered model step by step; register and measure every variant.

    \b
    aimass compress digits-mlp:1 --method prune:structured:0.5 \\
        --method quantize:int8-dynamic --data digits --json
    aimass compress digits-mlp:1 -m prune:structured:0.5 --detach
    """
    from aimass_lab.compress import compress as run_compress

    bench: dict[str, Any] = {}
    if runs is not None:
        bench["runs"] = runs
    if threads is not None:
        bench["threads"] = threads
    fields: dict[str, Any] = {"benchmark": bench} if bench else {}
    if name is not None:
        fields["name"] = name
    if detach:
        handle = run_compress(
            ref, list(methods), data=data, workspace=_ws(ctx), launch=True, **fields
        )
        if as_json:
            _emit_json(handle.to_dict())
        else:
            click.echo(
                f"started compress job {handle.id} for {handle.model}; follow it with: "
                f"aimass jobs logs {handle.id} -f"
            )
        return
    report = run_compress(ref, list(methods), data=data, workspace=_ws(ctx), **fields)
    if as_json:
        _emit_json(report.to_dict())
        return
    columns = ["method", "version", report.metric, "size_bytes", "params"]
    columns += ["ort_cpu_p50_ms", "ort_cpu_p95_ms", "ort_cpu_throughput", "torch_p50_ms"]
    _table(report.rows, columns)


@cli.command("export")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--data", "-d", help="Dataset of the parity batch [default: the model's].")
@click.option("--atol", type=float, default=1e-4, show_default=True, help="Parity tolerance.")
@json_option
@click.pass_context
def export_model(
    ctx: click.Context, ref: str, fmt: str, data: str | None, atol: float, as_json: bool
) -> None:
    """Export a registered model to ONNX (parity-checked) as a new child version."""
    from aimass_lab.compress import export_onnx

    mv = export_onnx(ref, data=data, atol=atol, workspace=_ws(ctx))
    if as_json:
        _emit_json(mv.to_dict())
        return
    parity = mv.lineage.get("export", {}).get("parity", {})
    click.echo(
        f"exported {mv.parent} to ONNX (opset {mv.lineage['export']['opset']}) as {mv.ref}: "
        f"max |torch - onnx| {parity.get('max_abs_diff', 0):.2g}, "
        f"argmax agreement {parity.get('argmax_agreement')}"
    )


# --------------------------------------------------------------------------------- quickstart
@cli.command()
@click.option("--epochs", type=int, default=20, show_default=True)
@click.option("--name", default="quickstart-digits", show_default=True, help="Registry name.")
@json_option
@click.pass_context
def quickstart(ctx: click.Context, epochs: int, name: str, as_json: bool) -> None:
    """Headless end to end on digits: train, register, evaluate, search, compress, deploy."""
    from aimass_lab.quickstart import run_quickstart

    def say(message: str) -> None:
        if not as_json:
            click.echo(message)

    summary = run_quickstart(_ws(ctx), epochs=epochs, name=name, say=say, progress=not as_json)
    if as_json:
        _emit_json(summary)
    if summary["status"] != "succeeded":
        ctx.exit(1)


# ------------------------------------------------------------ deploy, deployments, export-triton
from aimass_lab.serve._cli_deploy import register_commands as _register_deploy  # noqa: E402

_register_deploy(cli, models)

# ------------------------------------------------------------------------------------- serve
from aimass_lab.serve._cli import serve_command as _serve_command  # noqa: E402

cli.add_command(_serve_command, "serve")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aimass`` console script."""
    try:
        cli.main(args=argv, prog_name="aimass", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
