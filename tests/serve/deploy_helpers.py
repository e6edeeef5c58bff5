"""Helpers of the deploy tests: one tiny digits model, trained once per test session."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from common_helpers import train_digits

from aimass_lab.workspace import Workspace

_CACHE: dict[str, Path] = {}


def _train_once(root: Path) -> Path:
    """Train a small MLP on digits for 2 epochs in this process; register it and its ONNX export.

    Returns the folder of a SQLite workspace with ``digits-mlp:1`` (torch) and
    ``digits-mlp:2`` (ONNX export of 1).
    """
    from aimass_lab.compress import export_onnx

    ws = Workspace(root / "ws")
    mv = train_digits(
        ws,
        root / "model",
        model={"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
        epochs=2,
        lr=5e-3,
    )
    export_onnx(mv, workspace=ws)
    ws.store.close()
    return root / "ws"


def model_workspace(tmp_path_factory: Any, dest: Path) -> Workspace:
    """A fresh copy (at ``dest``) of the session's workspace holding ``digits-mlp:1`` and ``:2``."""
    if "ws" not in _CACHE:
        _CACHE["ws"] = _train_once(tmp_path_factory.mktemp("deploy-model"))
    shutil.copytree(_CACHE["ws"], dest)
    return Workspace(dest)


def digits_rows(n: int = 4) -> list[list[float]]:
    """``n`` raw rows of the digits features (as the JSON route takes them)."""
    from sklearn.datasets import load_digits

    return json.loads(json.dumps(load_digits().data[:n].tolist()))


class Load:
    """Steady JSON traffic from two threads; every status and answering version is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.mismatches = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        body = {"inputs": digits_rows(2)}
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                reply = client.post(self.url, json=body)
                self.statuses[reply.status_code] += 1
                if reply.status_code == 200:
                    version = reply.json()["version"]
                    self.versions[version] += 1
                    self.mismatches += reply.headers.get("x-model-version") != version

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def wait_for(self, n: int) -> None:
        target = sum(self.statuses.values()) + n
        while sum(self.statuses.values()) < target and any(t.is_alive() for t in self._threads):
            self._stop.wait(0.02)
