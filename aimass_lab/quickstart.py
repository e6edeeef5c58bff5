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
    """Train an MLP on digits, register it, reload and evaluate it, run a short search,
    compress the registered model, then deploy the picked variant and query it.

    Returns
    -------
    dict
        ``status``, ``run_id``, ``model`` (``name:version``), ``test_acc`` measured on
        the test split with the model loaded back from the registry (hashes verified),
        the run's metrics, the short search's trials and best value, ``compressed`` (the
        compression report's rows and the variant picked), ``deployed`` (the endpoint, the
        accuracy over its JSON route and the OIP v2 agreement) and the time taken.
    """
    from aimass_lab import data
    from aimass_lab.train import train

    started = time.monotonic()
    say(f"[1/6] training an MLP on digits for {epochs} epochs (workspace {workspace.path})")
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

    say("[2/6] registering the model")
    version = run.register(name, description="aimass quickstart: MLP on digits")
    say(f"      registered {version.ref}")

    say("[3/6] evaluating the registered model on the test split")
    dataset = data.load(run.spec.data, workspace=workspace)
    accuracy = _accuracy(version.load_network(), dataset)
    summary.update(
        {
            "model": version.ref,
            "test_acc": accuracy,
            "test_samples": len(dataset.y_test),
            "metrics": run.summary,
            "global_step": run.job.result.get("global_step"),
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    say(f"      test accuracy {accuracy:.4f} on {len(dataset.y_test)} samples")

    say("[4/6] a short hyperparameter search (4 trials, TPE, median pruner)")
    summary["search"] = _search_step(workspace)
    summary["seconds"] = round(time.monotonic() - started, 1)
    best = summary["search"]
    say(f"      best val_acc {best['best_value']:.4f} with {best['best_params']}")

    say("[5/6] compressing the registered model: structured pruning, then int8 quantisation")
    summary["compressed"] = _compress_step(version, say)
    summary["seconds"] = round(time.monotonic() - started, 1)

    say("[6/6] deploying the picked model, asking it over JSON and OIP v2, then stopping it")
    picked = summary["compressed"]["picked"]
    summary["deployed"] = _deploy_step(workspace, picked, name, dataset, say)
    summary["seconds"] = round(time.monotonic() - started, 1)
    say(f"done in {summary['seconds']} s")
    return summary


def _accuracy(network: Any, dataset: Any) -> float:
    """Accuracy of a network on the dataset's test split."""
    import numpy as np
    import torch

    with torch.no_grad():
        X, y = dataset.take("test", None)  # digits: in memory
        logits = network(torch.as_tensor(X))
    return float((logits.argmax(dim=1).numpy() == np.asarray(y)).mean())


def _search_step(workspace: Any) -> dict[str, Any]:
    """A 4-trial TPE search with a median pruner; its trials and best value."""
    from aimass_lab.search import search

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
    return {
        "study": study.name,
        "trials": len(trials),
        "states": {str(k): int(v) for k, v in trials["state"].value_counts().items()},
        "best_value": best.values[0] if best.values else None,
        "best_params": best.params,
    }


#: The quickstart's compression: half the hidden neurons removed (3 epochs of fine-tuning),
#: then ONNX Runtime dynamic int8.
COMPRESS_METHODS = ["prune:structured:0.5:epochs=3", "quantize:int8-dynamic"]
_SHOWN = ("method", "version", "accuracy", "size_bytes", "params", "ort_cpu_p50_ms", "torch_p50_ms")


def _compress_step(version: Any, say: Callable[[str], None]) -> dict[str, Any]:
    """Compress ``version`` in this process; the variants are registered as its children."""
    from aimass_lab.compress import compress

    report = compress(
        version, COMPRESS_METHODS, benchmark={"warmup": 20, "runs": 200, "threads": 1}
    )
    rows: list[dict[str, Any]] = [{k: r.get(k) for k in _SHOWN} for r in report.rows]
    base = rows[0]
    for r in rows:
        latency = f"{r['ort_cpu_p50_ms']:.3f} ms"
        say(
            f"      {r['method']:<22} {r['version']:<22} accuracy {r['accuracy']:.4f}  "
            f"{r['size_bytes'] / 1024:7.1f} KiB ({r['size_bytes'] / base['size_bytes']:.2f}x)  "
            f"ORT p50 {latency} (speed {base['ort_cpu_p50_ms'] / r['ort_cpu_p50_ms']:.2f}x)"
        )
    picked = report.pick(max_drop=0.01, by="size_bytes", alias="compressed")
    say(f"      smallest within 1 point of accuracy: {picked.ref} (alias 'compressed')")
    return {"methods": list(COMPRESS_METHODS), "rows": rows, "picked": picked.ref}


def _deploy_step(
    workspace: Any, ref: str, name: str, dataset: Any, say: Callable[[str], None]
) -> dict[str, Any]:
    """Serve ``ref`` from the workspace's server, query it (JSON and OIP v2), then stop it."""
    import numpy as np

    from aimass_lab.serve.deploy import deploy

    dep = deploy(ref, name=name, workspace=workspace)
    try:
        x = np.asarray(dataset.take("test", None)[0], dtype=np.float32)
        chunks = [x[i : i + 32] for i in range(0, len(x), 32)]  # the server's batch limit
        answers = [dep.predict(chunk, preprocessed=True) for chunk in chunks]  # JSON route
        predicted = np.concatenate([np.asarray(a["predictions"]) for a in answers])
        logits = np.concatenate([dep.infer(chunk) for chunk in chunks])  # Open Inference Protocol
        info = {
            "ref": ref,
            "endpoint": dep.endpoint,
            "infer_url": dep.infer_url,
            "version": answers[0]["version"],
            "json_accuracy": float((predicted == np.asarray(dataset.y_test)).mean()),
            "oip_agreement": float((logits.argmax(axis=1) == predicted).mean()),
            "requests": 2 * len(chunks),
        }
        say(
            f"      {ref} served at {dep.endpoint}: accuracy {info['json_accuracy']:.4f} over "
            f"{len(chunks)} JSON requests; OIP v2 argmax agrees on {info['oip_agreement']:.0%}"
        )
    finally:
        dep.stop()
    info["state"] = dep.state
    say(f"      deployment {name!r} {dep.state}")
    return info
