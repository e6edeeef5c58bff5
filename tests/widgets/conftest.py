"""Fixtures of the widget tests: one real short training, started from a TrainPanel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from widgets_helpers import poll_until, stop_polling

from aimass_lab.workspace import Workspace


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A TrainPanel whose Train button trained a 2-epoch iris MLP (cancelled right after the
    click, then resumed), registered as ``iris-mlp:1``.

    Returns ``{"workspace", "panel", "run", "mv", "events"}``; ``events`` records what the
    panel showed along the way.
    """
    from aimass_lab import registry
    from aimass_lab.widgets import TrainPanel

    ws = Workspace(Path(tmp_path_factory.mktemp("widgets")) / "ws")
    panel = TrainPanel("iris", "mlp", workspace=ws, max_epochs=2)
    panel.hparam_fields["hidden"].value = 16
    events: dict[str, Any] = {}
    panel.train_button.click()
    events["error_after_click"] = panel.last_error
    events["polling_after_click"] = panel.polling
    events["jobs_after_click"] = ws.jobs.list(kind="train")
    stop_polling(panel)
    events["train_disabled_while_active"] = panel.train_button.disabled
    events["cancel_enabled_while_active"] = not panel.cancel_button.disabled
    assert panel.run is not None, panel.status.value
    panel.cancel_button.click()  # asks first: the confirm row names the run
    events["cancel_asks"] = panel.confirm.asking and panel.run.job.active
    panel.confirm.yes.click()
    stop_polling(panel)
    poll_until(panel.refresh)
    events["state_after_cancel"] = panel.run.status
    events["status_after_cancel"] = panel.status.value
    events["resume_enabled_after_cancel"] = not panel.resume_button.disabled
    panel.resume_button.click()
    stop_polling(panel)
    poll_until(panel.refresh)
    run = panel.run
    assert run.status == "succeeded", run.logs(tail=30)
    panel.register_name.value = "iris-mlp"
    events["status_before_register"] = panel.status.value
    panel.register_button.click()
    events["status_after_register"] = panel.status.value
    events["note_after_register"] = panel.register_note.value
    mv = registry.get("iris-mlp:1", workspace=ws)
    yield {"workspace": ws, "panel": panel, "run": run, "mv": mv, "events": events}
    panel.close()
    try:
        from aimass_lab.serve.deploy import deployments

        for dep in deployments(ws):
            if dep.state == "running":
                dep.stop()
    except Exception:
        pass
