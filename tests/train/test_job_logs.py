"""A training job's log shows how it goes while it runs: epochs with their metrics, and the
warnings raised inside it (captured with their time and origin)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import aimass_lab as am
from aimass_lab.workspace import Workspace

_WARNING_MODEL = '''
import warnings

import torch


class Noisy(torch.nn.Module):
    """A tiny network that warns once, in its first forward pass."""

    def __init__(self, input_shape, output_dim):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[0], output_dim))
        self.warned = False

    def forward(self, x):
        if not self.warned:
            self.warned = True
            warnings.warn("noisy model: first forward pass", UserWarning, stacklevel=1)
        return self.net(x)
'''


def test_a_training_jobs_log_has_its_epochs_and_its_warnings(
    sqlite_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "noisy_models.py").write_text(_WARNING_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    paths = [str(tmp_path), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    run = am.train(
        "wine", "noisy_models:Noisy", max_epochs=2, wait=True, workspace=sqlite_workspace
    )
    log = run.logs()
    assert run.status == "succeeded", log
    assert re.search(r"^\[train\] 2 epoch\(s\) of \d+ batch\(es\)", log, re.M), log
    epochs = re.findall(r"^\[train\] epoch (\d)/2 · step \d+ · .*val_acc [\d.]+.* s$", log, re.M)
    assert epochs == ["1", "2"], log
    assert re.search(r"^\[train\] \d+% · epoch 1 batch \d+/\d+ · train_loss [\d.]+$", log, re.M)
    warning = re.search(
        r"^\[\d\d:\d\d:\d\d\] WARNING py\.warnings: .*noisy_models\.py:\d+: UserWarning: "
        r"noisy model: first forward pass",
        log,
        re.M,
    )
    assert warning, log
    # the lines come in the order they happened
    assert log.index("noisy model") < log.index("[train] epoch 1/2") < log.index("succeeded")
