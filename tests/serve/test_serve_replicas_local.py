"""Replicas of a small model under isolation ``auto``: quick batches run in the server process
(no pipe round trip), the workers take them when batches are slow, and ``process`` isolation
never runs a batch in the server process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from serve_helpers import digits, model_workspace

from aimass_lab import registry
from aimass_lab.serve.server import _worker
from aimass_lab.serve.server._engine import prepare
from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ws = Workspace(model_workspace(tmp_path_factory, tmp_path_factory.mktemp("local") / "ws"))
    try:
        return prepare(registry.get("digits-mlp:2", workspace=ws))
    finally:
        ws.store.close()


def _expected(spec: dict, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(
        spec["files"]["model.onnx"]["path"], providers=["CPUExecutionProvider"]
    )
    return np.asarray(sess.run(None, {"input": x})[0])


async def _run(spec: dict, local: bool, batches: int) -> tuple[list[np.ndarray], list[bool]]:
    """Run ``batches`` batches; the outputs and whether each went inline (server process)."""
    _, x = digits(4)
    ex = _worker.ProcessExecutor(spec, 2, local=local)
    await ex.start()
    try:
        outs, inline = [], []
        for _ in range(batches):
            inline.append(ex.inline)
            outs.append((await ex.run({"input": x}))[0])
        assert len(ex.pids) == 2  # the workers stay up either way
        return outs, inline
    finally:
        await ex.close()


def test_quick_batches_run_in_the_server_process(
    spec: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "INLINE_MAX_S", 60.0)  # every batch counts as quick
    outs, inline = asyncio.run(_run(spec, local=True, batches=3))
    # the first batch goes to a worker (nothing measured yet); the next ones run here
    assert inline == [False, True, True]
    want = _expected(spec, digits(4)[1])
    for out in outs:
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_slow_batches_go_to_the_workers(spec: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_worker, "INLINE_MAX_S", 0.0)  # every batch counts as slow
    _, inline = asyncio.run(_run(spec, local=True, batches=3))
    assert inline == [False, False, False]


def test_process_isolation_never_runs_here(spec: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_worker, "INLINE_MAX_S", 60.0)
    _, inline = asyncio.run(_run(spec, local=False, batches=3))
    assert inline == [False, False, False]


def test_large_model_files_are_not_opened_twice(
    spec: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "INLINE_MAX_S", 60.0)
    size = sum(Path(f["path"]).stat().st_size for f in spec["files"].values())
    monkeypatch.setattr(_worker, "LOCAL_MAX_BYTES", size - 1)
    _, inline = asyncio.run(_run(spec, local=True, batches=3))
    assert inline == [False, False, False]
