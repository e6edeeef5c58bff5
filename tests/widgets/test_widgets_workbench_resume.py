"""A new Workbench (as after a kernel restart) picks up the workspace's work: the running
training job (offered, one click attaches the live view), the latest run's settings in the
Train form, the registered datasets in the Data tab. And the panels' destructive buttons
ask before they act."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from common_helpers import wait_for
from widgets_helpers import stop_polling

from aimass_lab.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    for job in workspace.jobs.list():
        if job.active:
            workspace.jobs.cancel(job.id)
            workspace.jobs.wait(job.id, timeout=60)
    workspace.store.close()


def test_a_new_workbench_offers_the_running_job_and_cancel_asks_first(ws: Workspace) -> None:
    import aimass_lab as am
    from aimass_lab.widgets import Workbench

    am.datasets.add("iris-copy", "iris", workspace=ws)
    # A long run, started detached (as from a kernel that has since restarted).
    run = am.train(
        "iris", "mlp", hparams={"hidden": 8}, max_epochs=5000, batch_size=16, lr=0.02,
        seed=3, name="iris-long", workspace=ws, launch=True,
    )  # fmt: skip
    wait_for(lambda: ws.jobs.get(run.id).state == "running", what="the run to start")

    wb = Workbench(workspace=ws)
    try:
        train = wb.train_panel
        assert train.run is None  # nothing attached before the user asks
        assert set(wb.running.offers) == {"train"}
        row, watch = wb.running.offers["train"]
        assert "iris-long" in row.children[0].value and run.id in row.children[0].value
        # the form holds the latest run's settings, not the defaults
        assert train.max_epochs.value == 5000 and train.batch_size.value == 16
        assert train.lr.value == pytest.approx(0.02) and train.seed.value == 3
        assert train.hparam_fields["hidden"].value == 8
        # the registered dataset is listed in the Data tab
        assert wb.data_panel.source.value == "registered"
        assert "iris-copy" in wb.data_panel.registered.control.options
        assert "iris-copy" in wb.data_panel.children[0].value

        watch.click()
        assert wb.tabs.selected_index == list(wb.panels).index("train")
        assert row.layout.display == "none"
        assert train.run is not None and train.run.id == run.id
        stop_polling(train)
        wait_for(lambda: train.refresh() and train._series, what="live curves of the run")
        assert not train.cancel_button.disabled

        # Cancel asks, naming the run; "Keep it running" leaves it running
        train.cancel_button.click()
        assert train.confirm.asking and "iris-long" in train.confirm.question.value
        assert train.confirm.yes.description == "Confirm cancel iris-long"
        train.confirm.no.click()
        assert not train.confirm.asking and ws.jobs.get(run.id).active
        # confirming stops it: a checkpoint, then interrupted
        train.cancel_button.click()
        train.confirm.yes.click()
        assert not train.confirm.asking
        stop_polling(train)
        done = ws.jobs.wait(run.id, timeout=120)
        assert done.state == "interrupted", ws.jobs.logs(run.id, tail=20)
    finally:
        wb.close()


def test_a_new_workbench_on_an_empty_workspace_offers_nothing(ws: Workspace) -> None:
    from aimass_lab.widgets import Workbench

    wb = Workbench(workspace=ws)
    try:
        assert wb.running.offers == {} and wb.running.children == ()
        assert wb.data_panel.source.value == "builtin"
        assert wb.train_panel.max_epochs.value == 10  # the defaults
    finally:
        wb.close()


def test_a_new_workbench_offers_a_running_search(ws: Workspace) -> None:
    import aimass_lab as am
    from aimass_lab.widgets import Workbench

    # A search whose workers are recorded but not started (queued: still active work).
    study = am.search(
        "iris", "mlp", space={"lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        n_trials=2, max_epochs=1, study="iris-lr", launch=False, workspace=ws,
    )  # fmt: skip
    wb = Workbench(workspace=ws)
    try:
        assert set(wb.running.offers) == {"search"}
        row, watch = wb.running.offers["search"]
        assert "A search is running" in row.children[0].value
        assert "iris-lr" in row.children[0].value
        assert "search" not in wb._built  # the Search tab is built when first needed
        watch.click()
        assert wb.tabs.selected_index == list(wb.panels).index("search")
        assert row.layout.display == "none"
        panel = wb.search_panel
        stop_polling(panel)
        assert panel.study is not None and panel.study.name == study.name
    finally:
        wb.close()
