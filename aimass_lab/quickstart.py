"""``aimass quickstart``: the whole pipeline, headless, on the digits dataset."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["run_quickstart"]


def run_quickstart(
    workspace: Any,
    *,
    epochs: int = 20,
    name: str = "quickstart-digits",
    say: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train an MLP on digits, register it, reload it from the registry and evaluate it.

    Returns
    -------
    dict
        ``status``, ``run_id``, ``model`` (``name:version``), ``test_accuracy`` measured on
        the test split with the model loaded back from the registry (hashes verified),
        the run's metrics and the time taken.
    """
    import numpy as np
    import torch

    from aimass_lab import data
    from aimass_lab.train import train

    started = time.monotonic()
    say(f"[1/3] training an MLP on digits for {epochs} epochs (workspace {workspace.path})")
    run = train(
        "digits",
        "mlp",
        hparams={"hidden": 128, "lr": 2e-3},
        max_epochs=epochs,
        seed=0,
        name="quickstart",
        workspace=workspace,
    )
    run.wait(progress=progress)
    summary: dict[str, Any] = {
        "status": run.status,
        "run_id": run.id,
        "workspace": str(workspace.path),
    }
    if run.status != "succeeded":
        summary["error"] = run.job.exit_reason
        say(f"training {run.status}: {run.job.exit_reason}\n{run.logs(tail=20)}")
        return summary

    say("[2/3] registering the model")
    version = run.register(name, description="aimass quickstart: MLP on digits")
    say(f"      registered {version.ref}")

    say("[3/3] evaluating the registered model on the test split")
    network = version.load_network()
    dataset = data.load(run.spec.data, workspace=workspace)
    with torch.no_grad():
        logits = network(torch.as_tensor(dataset.X_test))
    accuracy = float((logits.argmax(dim=1).numpy() == np.asarray(dataset.y_test)).mean())
    summary.update(
        {
            "model": version.ref,
            "test_accuracy": accuracy,
            "test_samples": len(dataset.y_test),
            "metrics": run.summary,
            "global_step": run.job.result.get("global_step"),
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    say(
        f"      test accuracy {accuracy:.4f} on {len(dataset.y_test)} samples — done in {summary['seconds']} s"
    )
    return summary
