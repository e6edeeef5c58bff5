"""``aimass models ensemble``: registered versions of one task combined into one new version."""

from __future__ import annotations

from typing import Any

import click

from aimass_lab.cli._models import models
from aimass_lab.cli._options import field_option, given, json_option
from aimass_lab.cli._output import emit_json, table
from aimass_lab.cli._root import workspace_of
from aimass_lab.specs import ENSEMBLE_METHODS, BenchmarkSpec, EnsembleSpec

__all__ = ["models_ensemble"]


def _weights(ctx: click.Context, param: click.Parameter, value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: accepted: one number per member, comma-separated (e.g. 2,1)"
        ) from None


@models.command("ensemble")
@click.argument("refs", nargs=-1, required=True)
@click.option(
    "--method",
    "-m",
    default="mean",
    show_default=True,
    metavar="|".join(ENSEMBLE_METHODS),
    help="mean of probabilities, majority vote, weighted mean (--weights), or stack (a "
    "logistic-regression meta-model fitted on the validation split).",
)
@click.option(
    "--weights",
    "-w",
    callback=_weights,
    help="weighted/vote: one non-negative weight per member, comma-separated (normalised).",
)
@field_option(EnsembleSpec, "name", "--name")
@click.option("--data", "-d", help="Dataset [default: the one the first member was trained on].")
@click.option("--alias", "aliases", multiple=True, help="Alias of the new version (repeatable).")
@field_option(BenchmarkSpec, "runs", "--runs", help="Timed runs at batch 1 per model")
@json_option
@click.pass_context
def models_ensemble(
    ctx: click.Context,
    refs: tuple[str, ...],
    method: str,
    weights: list[float] | None,
    name: str | None,
    data: str | None,
    aliases: tuple[str, ...],
    runs: int | None,
    as_json: bool,
) -> None:
    """Combine registered versions (REFS) of one task into one new version.

    The ensemble is one ONNX graph of its members' (a member without model.onnx is exported
    on the way), registered with lineage to every member and measured against each of them
    on the test split.

    \b
    aimass models ensemble digits-mlp:2 digits-cnn:2 --method mean --name digits-ens
    aimass models ensemble digits-mlp:2 digits-cnn:2 -m weighted -w 2,1 --json
    """
    from aimass_lab.compress import ensemble

    bench = given({"runs": runs})
    fields: dict[str, Any] = {"benchmark": bench} if bench else {}
    report = ensemble(
        list(refs),
        method,
        weights=weights,
        name=name,
        data=data,
        aliases=aliases,
        workspace=workspace_of(ctx),
        **fields,
    )
    if as_json:
        emit_json(report.to_dict())
        return
    columns = ["method", "version", report.metric, "size_bytes", "params"]
    columns += ["ort_cpu_p50_ms", "ort_cpu_throughput", "parity_max_abs_diff"]
    table(report.rows, columns)
    click.echo(f"registered {report.rows[-1]['version']} ({method} of {', '.join(refs)})")
