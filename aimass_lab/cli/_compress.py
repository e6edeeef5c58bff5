"""``aimass compress`` (compress a registered model step by step) and ``aimass export``."""

from __future__ import annotations

from typing import Any

import click

from aimass_lab.cli._options import field_option, given, json_option
from aimass_lab.cli._output import emit_json, table
from aimass_lab.cli._root import cli, workspace_of
from aimass_lab.specs import BenchmarkSpec, CompressSpec

__all__ = ["compress", "export_model"]


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
@field_option(CompressSpec, "name", "--name")
@field_option(BenchmarkSpec, "runs", "--runs", help="Timed runs at batch 1 per model")
@field_option(
    BenchmarkSpec, "threads", "--threads", help="Threads of torch and ONNX Runtime while timing"
)
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

    bench = given({"runs": runs, "threads": threads})
    fields: dict[str, Any] = {"benchmark": bench} if bench else {}
    fields.update(given({"name": name}))
    if detach:
        handle = run_compress(
            ref, list(methods), data=data, workspace=workspace_of(ctx), launch=True, **fields
        )
        if as_json:
            emit_json(handle.to_dict())
        else:
            click.echo(
                f"started compress job {handle.id} for {handle.model}; follow it with: "
                f"aimass jobs logs {handle.id} -f"
            )
        return
    report = run_compress(ref, list(methods), data=data, workspace=workspace_of(ctx), **fields)
    if as_json:
        emit_json(report.to_dict())
        return
    columns = ["method", "version", report.metric, "size_bytes", "params"]
    columns += ["ort_cpu_p50_ms", "ort_cpu_p95_ms", "ort_cpu_throughput", "torch_p50_ms"]
    table(report.rows, columns)


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

    mv = export_onnx(ref, data=data, atol=atol, workspace=workspace_of(ctx))
    if as_json:
        emit_json(mv.to_dict())
        return
    parity = mv.lineage.get("export", {}).get("parity", {})
    click.echo(
        f"exported {mv.parent} to ONNX (opset {mv.lineage['export']['opset']}) as {mv.ref}: "
        f"max |torch - onnx| {parity.get('max_abs_diff', 0):.2g}, "
        f"argmax agreement {parity.get('argmax_agreement')}"
    )
