"""An int8 model quantised for one CPU and served on another: the server log says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from common_helpers import wait_for
from serve_helpers import running

import aimass_lab as am
from aimass_lab.workspace import Workspace


def _int8_for(ws: Workspace, target: str) -> str:
    report = am.compress(
        "digits-mlp:1",
        [f"quantize:int8-dynamic:target_cpu={target}"],
        benchmark={"warmup": 1, "runs": 3, "throughput_runs": 1},
        workspace=ws,
    )
    version = report.versions[report.rows[1]["version"]]
    assert version.config["compression"]["int8"]["isa"] == target
    return version.ref


@pytest.mark.parametrize(
    ("quantised_for", "served_on", "expected"),
    [
        ("avx512-vnni", "avx2", "with full 8-bit weights, but this CPU is avx2 (no VNNI)"),
        ("avx2", "avx512-vnni", "quantised for avx2 and is served on avx512-vnni; its settings"),
        ("avx2", "avx2", None),
    ],
)
def test_the_server_warns_when_the_cpu_differs(
    ws: Workspace, tmp_path: Path, quantised_for: str, served_on: str, expected: str | None
) -> None:
    ref = _int8_for(ws, quantised_for)
    env = {"AIMASS_CPU_ISA": served_on}
    with running(ws.path, tmp_path, "--models", ref, env=env) as server:
        rows = np.zeros((2, 64), np.float32).tolist()  # model-ready rows: it serves them
        with server.client() as client:
            wait_for(
                lambda: client.get("/v2/models/digits-mlp/ready").status_code == 200,
                what=f"{ref} to be ready (server log: {server.log_path})",
            )
            reply = client.post("/v1/models/digits-mlp/predict", json={"inputs": rows})
        assert reply.status_code == 200, reply.text
        log = server.log()
    warnings = [line for line in log.splitlines() if "warning:" in line]
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and expected in warnings[0], log
        assert f"warning: {ref} as 'digits-mlp': this int8 model was quantised for" in warnings[0]
