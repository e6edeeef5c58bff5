"""Run: the handle of a training job, readable from any process on the workspace."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import JobError
from aimass_lab.specs import TrainSpec
from aimass_lab.workspace import JobHandle, Workspace, resolve_workspace

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

__all__ = ["Run", "list_runs"]


class Run(JobHandle):
    """A training run (a ``train`` job) and everything it recorded.

    Parameters
    ----------
    run_id
        The job id (a unique prefix of 6+ characters is accepted).
    workspace
        The workspace (default: the current one).

    Examples
    --------
    >>> run = aimass_lab.train("digits", "mlp", max_epochs=3)  # doctest: +SKIP
    >>> run.wait().status  # doctest: +SKIP
    'succeeded'
    >>> run.metrics.tail()  # doctest: +SKIP
    """

    kind = "train"
    noun = "a training run"

    def __init__(self, run_id: str, workspace: Workspace | str | None = None) -> None:
        super().__init__(run_id, workspace)

    # -- state --------------------------------------------------------------------------------
    @property
    def spec(self) -> TrainSpec:
        """The TrainSpec this run executes."""
        return TrainSpec.from_dict(self.job.spec)

    @property
    def name(self) -> str:
        """The run's label."""
        job = self.job
        return job.name or f"{job.spec.get('model', {}).get('family', 'model')}-{self.id[-6:]}"

    @property
    def run_dir(self) -> Path:
        """The run's folder in the workspace."""
        return self.workspace.jobs.run_dir(self.id)

    @property
    def checkpoint_path(self) -> Path:
        """``last.ckpt`` of the run (it may not exist yet)."""
        return self.run_dir / "checkpoints" / "last.ckpt"

    @property
    def tensorboard_dir(self) -> Path:
        """Where the TensorBoard event files are."""
        return self.run_dir / "tensorboard"

    @property
    def summary(self) -> dict[str, float]:
        """The last value of every recorded metric."""
        return self.workspace.last_metrics(self.id)

    @property
    def metrics(self) -> pd.DataFrame:
        """Every recorded point: columns ``name``, ``step``, ``epoch``, ``value``."""
        import pandas as pd

        rows = self.workspace.metrics(self.id)
        return pd.DataFrame(rows, columns=["id", "name", "step", "epoch", "value"]).drop(
            columns="id"
        )

    def history(self, name: str) -> list[tuple[int, float]]:
        """``(step, value)`` pairs of one metric."""
        return [(p["step"], p["value"]) for p in self.workspace.metrics(self.id, name=name)]

    # -- control ------------------------------------------------------------------------------
    def cancel(self) -> Run:
        """Stop the run; it saves a checkpoint and is recorded ``interrupted``."""
        return super().cancel()

    def _bar_options(self) -> dict[str, Any]:
        return {
            "desc": f"run {self.id}",
            "bar_format": "{l_bar}{bar}| {elapsed}<{remaining}{postfix}",
        }

    def _bar_postfix(self) -> dict[str, str]:
        """The latest losses (and accuracy) next to the state."""
        return {
            k: f"{v:.4g}"
            for k, v in self.summary.items()
            if k in ("train_loss", "val_loss", "val_acc")
        }

    def resume(self, wait: bool = False) -> Run:
        """Continue an interrupted run from its last checkpoint (the global step continues)."""
        from aimass_lab.train._job import check_checkpoint

        job = self.job
        if job.result.get("in_process"):
            raise JobError(
                f"run {self.id} trained a model object inside a notebook kernel; train it again with "
                "aimass_lab.train(...) — resume is available for runs of zoo or importable models"
            )
        if self.checkpoint_path.exists() and job.state in ("interrupted", "failed", "cancelled"):
            check_checkpoint(self.checkpoint_path)
        self.workspace.jobs.resume(self.id)
        return self.wait() if wait else self

    # -- outputs ------------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        """Folder with ``weights.safetensors`` and ``model.json`` once the run succeeded."""
        return self.run_dir / "model"

    def model(self) -> nn.Module:
        """The trained network with its final weights (loaded from safetensors)."""
        import json

        from aimass_lab.models import load_network, weight_files

        job = self.job
        if job.state != "succeeded" or not (self.model_dir / "model.json").exists():
            raise JobError(
                f"run {self.id} is {job.state}; its model is available once it has succeeded"
                + (" (resume it with run.resume())" if job.state == "interrupted" else "")
            )
        config = json.loads((self.model_dir / "model.json").read_text())
        weights = [self.model_dir / name for name in weight_files(config)]
        return load_network(config, weights, label=f"run {self.id}")

    def register(
        self,
        name: str,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        description: str | None = None,
    ) -> Any:
        """Register the trained model as the next version of ``name`` in the registry."""
        from aimass_lab import registry

        return registry.register(
            self, name, aliases=aliases, description=description, workspace=self.workspace
        )

    # -- display ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the job record plus the last metrics."""
        return {**self.job.to_dict(), "summary": self.summary}

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, status={self.status!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live panel (:mod:`aimass_lab.widgets`), this HTML as fallback."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        job = self.job
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>"
            for k, v in sorted(self.summary.items())
        )
        progress = f"{100 * (job.progress or 0):.0f}%"
        return (
            f"<div><b>Run {html.escape(self.id)}</b> — {html.escape(job.state)} ({progress})"
            + (f"<br><i>{html.escape(job.exit_reason)}</i>" if job.exit_reason else "")
            + f"<table>{rows}</table></div>"
        )


def list_runs(workspace: Workspace | str | None = None, limit: int | None = None) -> list[Run]:
    """Training runs of the workspace, newest first."""
    ws = resolve_workspace(workspace)
    return [Run(job.id, ws) for job in ws.jobs.list(kind="train", limit=limit)]
