"""``aimass search``: hyperparameter searches whose trials are trainings run by worker jobs,
and ``aimass search list | show | best | register | worker | dashboard``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from aimass_lab.cli._options import (
    config_option,
    field_option,
    given,
    images_option,
    json_option,
    parse_sets,
    sets_option,
)
from aimass_lab.cli._output import emit_json, fmt, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of
from aimass_lab.cli._train import training_args
from aimass_lab.errors import AimassError
from aimass_lab.specs import SearchSpec, TrainSpec, default_space

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["search"]


@cli.group(cls=AimassGroup, invoke_without_command=True)
@click.option("--data", "-d", help="Built-in or registered dataset name.")
@click.option("--model", "-m", help="Base zoo model (mlp, cnn, ...) [default: mlp].")
@click.option(
    "--space",
    type=click.Path(dir_okay=False),
    help="YAML file: NAME: {type: int|float|categorical, low, high, log, step, choices} "
    "[default: lr and the model's first hyperparameter, as in the Search panel].",
)
@field_option(
    SearchSpec,
    "objectives",
    "--objective",
    multiple=True,
    metavar="METRIC:min|max",
    help="Repeatable: val_acc:max, val_loss:min, params:min, size_kb:min, latency_ms:min.",
)
@field_option(SearchSpec, "sampler", "--sampler")
@field_option(SearchSpec, "pruner", "--pruner")
@field_option(SearchSpec, "n_trials", "--trials")
@field_option(SearchSpec, "timeout", "--timeout")
@field_option(
    SearchSpec,
    "workers",
    "--workers",
    "workers",
    help="Worker jobs running trials at the same time (the Search panel's 'workers') [default: 1].",
)
@click.option("--parallel", "parallel_alias", type=int, hidden=True)
@field_option(SearchSpec, "seed", "--seed")
@field_option(SearchSpec, "cv", "--cv")
@field_option(
    SearchSpec, "study", "--study", help="Study name; an existing study of this name is resumed"
)
@field_option(SearchSpec, "storage", "--storage")
@sets_option("A fixed model or training hyperparameter of the base training (repeatable).")
@field_option(TrainSpec, "max_epochs", "--epochs", "epochs", help="max_epochs of every trial")
@images_option
@config_option("SearchSpec")
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
    sets: tuple[str, ...],
    epochs: int | None,
    images: bool,
    config: str | None,
    no_wait: bool,
    do_register: bool,
    name: str | None,
    as_json: bool,
    parallel_alias: int | None,
    **flags: Any,
) -> None:
    """Search hyperparameters: trials are trainings run by worker jobs.

    \b
    aimass search --data digits --model mlp --space space.yaml --objective val_acc:max \\
        --sampler tpe --pruner hyperband --trials 30 --workers 2 --json
    aimass search --data digits --model mlp --trials 10   (the default space: lr, hidden)
    aimass search list | show NAME | best NAME | register NAME | worker --study NAME
    """
    if ctx.invoked_subcommand is not None:
        return
    from aimass_lab.search import run_search

    ws = workspace_of(ctx)
    base: dict[str, Any] = SearchSpec.from_yaml(config).to_dict() if config else {}
    if data is None and not base:
        raise click.UsageError("give --data NAME or --config FILE")
    if parallel_alias is not None:
        click.echo("warning: --parallel is deprecated; use --workers", err=True)
        if flags.get("workers") is None:
            flags["workers"] = parallel_alias
    train_flags = {"data": data, "model": model, "epochs": epochs, "images": images}
    spec = _search_spec(ws, base, train_flags, sets, space, given(flags))
    handle = run_search(spec, ws)
    say = (lambda m: None) if as_json else click.echo
    say(f"study {handle.name}: {len(handle.workers)} worker job(s) started")
    say(f"space: {', '.join(f'{k} ({v.type})' for k, v in spec.space.items())}")
    if no_wait:
        if as_json:
            emit_json(handle.to_dict())
        else:
            click.echo(f"follow it with: aimass search show {handle.name}")
        return
    handle.wait(on_trial=None if as_json else _echo_trial)
    doc = handle.to_dict()
    if do_register and len(handle.spec.objectives) == 1 and handle.best_trials:
        mv = handle.best_model(register=True, name=name)
        doc["registered"] = mv.ref
        say(f"registered trial {handle.best_trial.number} as {mv.ref}")
    if as_json:
        emit_json(doc)
    else:
        _show_study(doc)
    if not any(t["state"] == "COMPLETE" for t in doc["trials"]):
        ctx.exit(1)


def _echo_trial(trial: Any) -> None:
    """One line per finished trial: number, state, value(s), parameters and duration."""
    values = "/".join(fmt(v) for v in trial.values) if trial.values else "-"
    params = ", ".join(f"{k}={fmt(v)}" for k, v in sorted(trial.params.items()))
    took = f"{trial.duration_s:.1f} s" if trial.duration_s is not None else "-"
    error = f" · {trial.error}" if trial.state == "FAIL" and trial.error else ""
    click.echo(
        f"trial {trial.number} {trial.state} · value {values} · {params or 'no params'} · "
        f"{took}{error}"
    )
    sys.stdout.flush()


def _search_spec(
    ws: Any,
    base: dict[str, Any],
    train_flags: dict[str, Any],
    sets: tuple[str, ...],
    space: str | None,
    overrides: dict[str, Any],
) -> SearchSpec:
    """The SearchSpec of ``aimass search``: the flags over the ``--config`` file ``base``."""
    from aimass_lab.search import load_space
    from aimass_lab.train import build_train_spec

    train_base: dict[str, Any] = dict(base.get("train") or {})
    hparams = parse_sets(sets)
    data_arg, model_arg, fields = training_args(
        ws, train_base, train_flags["data"], train_flags["model"], train_flags["images"], hparams
    )
    if train_flags["epochs"] is not None:
        fields["max_epochs"] = train_flags["epochs"]
    train_spec = build_train_spec(data_arg, model_arg, hparams=hparams, workspace=ws, **fields)
    payload: dict[str, Any] = {k: v for k, v in base.items() if k != "train"}
    payload["train"] = train_spec
    if space is not None:
        payload["space"] = load_space(space)
    elif "space" not in payload:
        payload["space"] = default_space(train_spec.model.family)
    payload.update(overrides)
    return SearchSpec.from_dict(payload)


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
            "params": " ".join(f"{k}={fmt(v)}" for k, v in t["params"].items()),
            "run": t["run_id"],
        }
        for t in doc["trials"]
    ]
    table(rows, ["trial", "state", "values", "best", "params", "run"])


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

    items = list_studies(storage, workspace=workspace_of(ctx))
    if as_json:
        emit_json(items)
    else:
        table(items, ["study", "n_trials", "objectives", "started"])


@search.command("show")
@click.argument("name")
@_storage_option
@json_option
@click.pass_context
def search_show(ctx: click.Context, name: str, storage: str | None, as_json: bool) -> None:
    """Show a study: status and every trial's state, params and values."""
    from aimass_lab.search import load_study

    doc = load_study(name, storage, workspace_of(ctx)).to_dict()
    if as_json:
        emit_json(doc)
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

    study = load_study(name, storage, workspace_of(ctx))
    chosen = study.best_trials
    if len(study.spec.objectives) == 1 and chosen:
        chosen = [study.best_trial]
    trials = [t.to_dict() for t in chosen]
    if as_json:
        emit_json(trials)
        return
    if not trials:
        raise AimassError(f"study {name!r} has no complete trial yet")
    for t in trials:
        click.echo(f"trial {t['number']}: values {fmt(t['values'])} run {t['run_id']}")
        for key, value in sorted(t["params"].items()):
            click.echo(f"  {key:<22} {fmt(value)}")


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

    study = load_study(name, storage, workspace_of(ctx))
    chosen = study.best_trial if trial is None else study.trial(trial)
    mv = study.register(chosen, model_name, aliases=aliases)
    if as_json:
        emit_json(mv.to_dict())
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
    from aimass_lab.search import join_study

    job_id, code = join_study(workspace_of(ctx), study_name, storage)
    click.echo(f"worker {job_id} ended")
    if code:
        ctx.exit(code)


@search.command("dashboard")
@click.argument("name")
@click.option("--port", type=int, default=8080, show_default=True, help="0: a free port.")
@click.option(
    "--idle-timeout",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Stop after SECONDS without a request (0: never; default AIMASS_IDLE_SHUTDOWN_S).",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run it in the background (a job: aimass jobs cancel ID stops it) and print its URL.",
)
@_storage_option
@click.pass_context
def search_dashboard(
    ctx: click.Context,
    name: str,
    port: int,
    idle_timeout: float | None,
    detach: bool,
    storage: str | None,
) -> None:
    """Open optuna-dashboard on the study, on 127.0.0.1 only (stops on Ctrl-C, or when idle).

    Recorded as a job of the kind `dashboard` (owner, idle time: the sidebar's Services);
    `aimass gc` stops one whose process or kernel is gone.
    """
    from aimass_lab.search import run_dashboard_here, start_dashboard
    from aimass_lab.workspace import current_user

    ws = workspace_of(ctx)
    if detach:
        board = start_dashboard(ws, name, storage, port=port, idle_timeout_s=idle_timeout)
        click.echo(
            f"optuna-dashboard on {board.url} (job {board.job_id}, started by {board.owner})"
        )
        return

    def ready(url: str) -> None:
        click.echo(f"optuna-dashboard on {url} (started by {current_user()}; Ctrl-C to stop)")

    why, code = run_dashboard_here(
        ws, name, storage, port=port, idle_timeout_s=idle_timeout, on_ready=ready
    )
    click.echo(f"optuna-dashboard stopped: {why}")
    if code:
        ctx.exit(code)
