"""``aimass compress`` and ``aimass export`` in real processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from common_helpers import aimass
from compress_helpers import train_digits

from aimass_lab.cli import cli
from aimass_lab.workspace import Workspace


def test_cli_compress_json_and_export(tmp_path: Path) -> None:
    ws_dir = tmp_path / "ws"
    mv = train_digits(Workspace(ws_dir), tmp_path / "m", name="cli-mlp", epochs=2)
    proc = aimass(
        ws_dir,
        "compress",
        mv.ref,
        "--method",
        "prune:structured:0.5:epochs=1",
        "--method",
        "quantize:int8-dynamic",
        "--method",
        "distill:student=mlp-small",
        "--data",
        "digits",
        "--runs",
        "3",
        "--json",
    )
    assert proc.returncode == 1, proc.stderr
    assert "quantize must be the last step" in proc.stderr
    proc = aimass(
        ws_dir,
        "compress",
        mv.ref,
        "--method",
        "prune:structured:0.5:epochs=1",
        "--method",
        "distill:student=mlp-small:epochs=1",
        "--method",
        "quantize:int8-dynamic",
        "--data",
        "digits",
        "--runs",
        "3",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    rows = doc["rows"]
    assert [r["method"] for r in rows] == [
        "baseline",
        "prune:structured:0.5",
        "distill:student=mlp-small",
        "quantize:int8-dynamic",
    ]
    assert [r["version"] for r in rows] == ["cli-mlp:1", "cli-mlp:2", "cli-mlp:3", "cli-mlp:4"]
    for row in rows:
        for key in ("accuracy", "size_bytes", "params", "ort_cpu_p50_ms", "ort_cpu_p95_ms"):
            assert isinstance(row[key], int | float), key
        assert row["ort_cpu_throughput"] > 0

    out = aimass(ws_dir, "export", "cli-mlp:1", "--format", "onnx", "--json")
    assert out.returncode == 0, out.stderr
    exported = json.loads(out.stdout)
    assert exported["parent"] == "cli-mlp:1" and "model.onnx" in exported["manifest"]

    # The human forms, in this process.
    runner = CliRunner()
    table = runner.invoke(
        cli, ["-w", str(ws_dir), "compress", "cli-mlp:1", "-m", "prune:0.3:epochs=0", "--runs", "3"]
    )
    assert table.exit_code == 0, table.output
    assert "METHOD" in table.output and "prune:unstructured:0.3" in table.output
    plain = runner.invoke(cli, ["-w", str(ws_dir), "export", "cli-mlp:1"])
    assert plain.exit_code == 0, plain.output
    assert "exported cli-mlp:1 to ONNX (opset 17) as cli-mlp:" in plain.output

    bad = aimass(ws_dir, "compress", "cli-mlp:1", "-m", "prune:structured:2")
    assert bad.returncode == 1
    assert "prune ratio must be strictly between 0 and 1" in bad.stderr
