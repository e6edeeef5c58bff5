"""The workspace's lists as rows and columns, shared by the CLI (``aimass models list``, ``runs
list``, ``deployments list``, ``datasets list``) and the ``%aimass`` magic, so that both show
the same columns. Each function returns ``(rows, columns)``: the rows hold every field (the
CLI's ``--json`` prints them whole); the columns are those a table shows.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cell", "dataset_rows", "deployment_rows", "model_rows", "run_rows", "version_key"]

Rows = tuple[list[dict[str, Any]], list[str]]


def cell(value: Any) -> str:
    """One table cell: ``-`` for None, floats to 4 significant digits, lists comma-joined."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value)
    return str(value)


def model_rows(workspace: Any, name: str | None = None) -> Rows:
    """Model versions (of ``name``, or all), with their validation and test accuracy."""
    from aimass_lab import registry

    rows = []
    for mv in registry.list(name, workspace=workspace):
        doc = mv.to_dict()
        metrics = doc.get("metrics") or {}
        doc["test_acc"] = metrics.get("test_acc")
        doc["val_acc"] = metrics.get("val_acc")
        rows.append(doc)
    return rows, ["ref", "aliases", "run_id", "val_acc", "test_acc", "created_at"]


def run_rows(workspace: Any, limit: int = 50) -> Rows:
    """Training runs, newest first, with their latest metrics."""
    from aimass_lab.train import list_runs

    rows = []
    for run in list_runs(workspace, limit=limit):
        job = run.job
        summary = run.summary
        rows.append(
            {
                "id": job.id,
                "name": run.name,
                "state": job.state,
                "data": job.spec.get("data", {}).get("name"),
                "model": job.spec.get("model", {}).get("family"),
                "val_loss": summary.get("val_loss"),
                "val_acc": summary.get("val_acc"),
                "test_acc": summary.get("test_acc"),
                "created_at": job.created_at,
                "summary": summary,
            }
        )
    return rows, ["id", "name", "state", "data", "model", "val_loss", "val_acc", "test_acc"]


def deployment_rows(workspace: Any, running: bool = False) -> Rows:
    """Deployments (only the running ones with ``running``) as a table shows them; each row's
    ``record`` is the deployment's whole record (what ``--json`` prints)."""
    from aimass_lab.serve import deployments

    rows = []
    for dep in deployments(workspace, all=not running):
        doc = dep.to_dict()
        split = doc.get("split") or {}
        labels = sorted((v["version"] for v in doc.get("versions", [])), key=version_key)
        rows.append(
            {
                "name": doc["name"],
                "state": doc["state"],
                "model": doc.get("spec", {}).get("model"),
                "versions": ",".join(labels),
                "split": " ".join(f"{k}={w}" for k, w in split.items()),
                "url": doc.get("endpoint"),
                "record": doc,
            }
        )
    return rows, ["name", "state", "model", "versions", "split", "url"]


def dataset_rows(workspace: Any) -> Rows:
    """Built-in and registered datasets."""
    from aimass_lab import data

    return list(data.list(workspace=workspace)), [
        "name",
        "source",
        "task",
        "registered",
        "description",
    ]


def version_key(label: str) -> tuple[int, str]:
    """Sort key of version labels: numbers in order, then other labels."""
    return (int(label), "") if label.isdigit() else (1 << 62, label)
