"""Helpers of the server tests: a tiny digits model trained once per session, real servers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from common_helpers import train_digits

from aimass_lab.workspace import Workspace

_CACHE: dict[str, Path] = {}
REPO = Path(__file__).resolve().parents[2]


def _train_once(root: Path) -> Path:
    """Train an MLP on digits for 1 epoch in this process; register it and two ONNX exports.

    The workspace holds ``digits-mlp:1`` (torch), ``digits-mlp:2`` and ``digits-mlp:3``
    (ONNX exports of 1), alias ``prod`` on 2.
    """
    from aimass_lab import registry
    from aimass_lab.compress import export_onnx

    ws = Workspace(root / "ws")
    mv = train_digits(
        ws,
        root / "model",
        model={"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
        epochs=1,
        lr=5e-3,
    )
    export_onnx(mv, workspace=ws)
    export_onnx(mv, workspace=ws)
    registry.set_alias("digits-mlp:2", "prod", workspace=ws)
    ws.store.close()
    return root / "ws"


def model_workspace(tmp_path_factory: Any, dest: Path) -> Path:
    """A fresh copy (at ``dest``) of the session's workspace with ``digits-mlp:1..3``."""
    if "ws" not in _CACHE:
        _CACHE["ws"] = _train_once(tmp_path_factory.mktemp("serve-model"))
    shutil.copytree(_CACHE["ws"], dest)
    return dest


def digits(n: int = 8, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(raw rows, model-ready rows)`` of the digits features, as float32."""
    from aimass_lab.data._preprocess import Preprocessor

    raw = _raw_digits()[start : start + n]
    pre = Preprocessor.from_state(_model_config()["preprocess"])
    return raw.astype(np.float32), pre.transform(raw).astype(np.float32)


def _raw_digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return np.asarray(load_digits().data, dtype=np.float64)


def _model_config() -> dict[str, Any]:
    ws = Workspace(_CACHE["ws"])
    from aimass_lab import registry

    try:
        return registry.get("digits-mlp:1", workspace=ws).config
    finally:
        ws.store.close()


class ServerProcess:
    """A real ``python -m aimass_lab.cli serve`` process on 127.0.0.1 (port 0)."""

    def __init__(
        self, workspace: Path, tmp: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        self.ready_file = tmp / f"ready-{time.monotonic_ns()}.json"
        self.log_path = tmp / f"server-{time.monotonic_ns()}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop("AIMASS_DB_URL", None)
        cmd = [
            sys.executable, "-m", "aimass_lab.cli", "serve", "--workspace", str(workspace),
            "--port", "0", "--ready-file", str(self.ready_file), *args,
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO
        )
        deadline = time.monotonic() + 120
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server not ready in 120 s:\n{self.log()}")
            time.sleep(0.05)
        info = json.loads(self.ready_file.read_text())
        self.url: str = info["url"]
        self.port: int = info["port"]
        self.pid: int = info["pid"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def terminate(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@contextlib.contextmanager
def running(
    workspace: Path, tmp: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    server = ServerProcess(workspace, tmp, *args, env=env)
    try:
        yield server
    finally:
        server.kill()


def oip_body(x: np.ndarray, name: str = "input") -> dict[str, Any]:
    return {
        "inputs": [
            {"name": name, "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}
        ]
    }
