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
    """Train an MLP on digits, register it, reload and evaluate it, then run a short search.

    Returns
    -------
    dict
        ``status``, ``run_id``, ``model`` (``name:version``), ``test_accuracy`` measured on
        the test split with the model loaded back from the registry (hashes verified),
        the run's metrics, the short search's trials and best value, and the time taken.
    """
    import numpy as np
    import torch

    from aimass_lab import data
    from aimass_lab.search import search
    from aimass_lab.train import train

    started = time.monotonic()
    say(f"[1/4] training an MLP on digits for {epochs} epochs (workspace {workspace.path})")
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

    say("[2/4] registering the model")
    version = run.register(name, description="aimass quickstart: MLP on digits")
    say(f"      registered {version.ref}")

    say("[3/4] evaluating the registered model on the test split")
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
    say(f"      test accuracy {accuracy:.4f} on {len(dataset.y_test)} samples")

    say("[4/4] a short hyperparameter search (4 trials, TPE, median pruner)")
    study = search(
        "digits",
        "mlp",
        space={
            "lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
            "hidden": {"type": "int", "low": 32, "high": 128, "log": True},
        },
        objectives="val_acc:max",
        sampler="tpe",
        pruner="median",
        n_trials=4,
        max_epochs=3,
        seed=0,
        workspace=workspace,
    )
    study.wait()
    trials = study.trials
    best = study.best_trial
    summary["search"] = {
        "study": study.name,
        "trials": len(trials),
        "states": {str(k): int(v) for k, v in trials["state"].value_counts().items()},
        "best_value": best.values[0] if best.values else None,
        "best_params": best.params,
    }
    summary["seconds"] = round(time.monotonic() - started, 1)
    say(f"      best val_acc {summary['search']['best_value']:.4f} with {best.params}")
    say(f"done in {summary['seconds']} s")
    return summary
