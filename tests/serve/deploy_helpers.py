"""Helpers of the deploy tests: one tiny digits model, trained once per test session."""

from __future__ import annotations

import json
import shutil
import threading
import time
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


#: The pseudo-status of a request that got no HTTP answer (connection error, timeout).
FAILED = -1


class Load:
    """Steady JSON traffic from two threads; every status and answering version is kept.

    A request that raised (no answer at all) counts under status :data:`FAILED`, with its
    exception in ``errors``, so ``set(load.statuses) == {200}`` fails on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.mismatches = 0
        self.errors: list[str] = []  # what the requests that got no answer raised
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        body = {"inputs": digits_rows(2)}
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    reply = client.post(self.url, json=body)
                except Exception as exc:  # a refused connection or timeout is a failed request
                    self.statuses[FAILED] += 1
                    self.errors.append(repr(exc))
                    continue
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

    def wait_for(self, n: int, timeout: float = 120.0) -> None:
        """Wait until ``n`` more requests were answered (or failed)."""
        target = sum(self.statuses.values()) + n
        deadline = time.monotonic() + timeout
        while sum(self.statuses.values()) < target and any(t.is_alive() for t in self._threads):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {n} more requests; "
                    f"statuses so far {dict(self.statuses)}, errors {self.errors[-3:]}"
                )
            self._stop.wait(0.02)
