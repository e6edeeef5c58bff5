"""Panels without training: forms, validation, polling, display hooks, the Workbench."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aimass_lab._display
from aimass_lab.specs import SearchSpec, default_space
from aimass_lab.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def test_import_aimass_lab_imports_no_widget_library() -> None:
    code = (
        "import sys, aimass_lab; aimass_lab.widgets if False else None; "
        "import aimass_lab.widgets; "
        "bad = [m for m in ('ipywidgets', 'plotly', 'anywidget') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "Workbench" in dir(__import__("aimass_lab"))


# -- helpers -----------------------------------------------------------------------------------
def test_downsample_keeps_ends_and_caps_points() -> None:
    from aimass_lab.widgets._base import downsample

    x = list(range(10_000))
    y = [float(v) for v in x]
    dx, dy = downsample(x, y, max_points=500)
    assert len(dx) == len(dy) <= 500
    assert dx[0] == 0 and dx[-1] == 9_999
    assert downsample([1, 2], [3.0, 4.0]) == ([1, 2], [3.0, 4.0])


def test_rebalance_keeps_the_sum_at_100() -> None:
    from aimass_lab.widgets._deploy import rebalance

    assert rebalance({"3": 100, "4": 0}, "4", 10) == {"4": 10, "3": 90}
    out = rebalance({"1": 50, "2": 30, "3": 20}, "1", 25)
    assert out["1"] == 25 and sum(out.values()) == 100 and out["2"] > out["3"]
    assert rebalance({"1": 100}, "1", 40) == {"1": 100}


def test_parse_devices_and_seconds() -> None:
    from aimass_lab.widgets._common import fmt_seconds, parse_devices

    assert parse_devices("auto") == "auto"
    assert parse_devices("2") == 2
    assert parse_devices("0,1") == [0, 1]
    assert parse_devices("x") == "x"
    assert fmt_seconds(None) == "—"
    assert fmt_seconds(75) == "1 min 15 s"


# -- polling -----------------------------------------------------------------------------------
def test_poller_thread_stops_when_refresh_says_so_and_caps_the_rate() -> None:
    from aimass_lab.widgets import Poller

    calls: list[float] = []

    def refresh() -> bool:
        calls.append(time.monotonic())
        return len(calls) < 4

    poller = Poller(refresh, interval=0.01).start()  # asks for 100/s, gets 4/s at most
    assert poller.mode == "thread"
    poller.join(timeout=5)
    assert not poller.running
    assert len(calls) == 4
    gaps = np.diff(calls)
    assert gaps.min() >= 0.24


def test_poller_runs_as_an_asyncio_task_in_a_running_loop() -> None:
    from aimass_lab.widgets import Poller

    calls: list[int] = []

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, f"timed out after 30 s waiting for {what}"
            await asyncio.sleep(0.05)

    async def main() -> tuple[str | None, bool, int]:
        poller = Poller(lambda: calls.append(1), interval=0.25).start()
        await until(lambda: len(calls) >= 2, "two calls of the poller")  # it polls, repeatedly
        mode = poller.mode
        poller.stop()
        await until(lambda: not poller.running, "the poller to stop")
        stopped_at = len(calls)
        await asyncio.sleep(0.75)  # three intervals: a stopped poller calls nothing more
        return mode, poller.running, stopped_at

    mode, running, stopped_at = asyncio.run(main())
    assert mode == "asyncio" and not running
    assert len(calls) == stopped_at


def test_poller_reports_errors_and_gives_up() -> None:
    from aimass_lab.widgets import Poller

    errors: list[BaseException] = []

    def refresh() -> None:
        raise RuntimeError("store unreachable")

    poller = Poller(refresh, interval=0.25, on_error=errors.append)
    poller.start().join(timeout=5)
    assert not poller.running and len(errors) == 5
    assert "store unreachable" in str(errors[0])


def test_closing_a_panel_stops_its_polling(ws: Workspace) -> None:
    from aimass_lab.widgets import TrainPanel

    panel = TrainPanel("iris", workspace=ws)
    ticks: list[int] = []

    def refresh() -> bool:
        ticks.append(1)
        return True

    panel.refresh = refresh  # type: ignore[method-assign]
    panel.start_polling()
    time.sleep(0.6)
    assert panel.polling
    panel.close()
    assert panel.poller is not None
    panel.poller.join(timeout=2)
    assert not panel.polling
    count = len(ticks)
    time.sleep(0.6)
    assert len(ticks) == count
    panel.start_polling()  # a closed panel never polls again
    assert not panel.polling


# -- train form ------------------------------------------------------------------------------
def test_train_form_shows_invalid_values_and_disables_train(ws: Workspace) -> None:
    from aimass_lab.widgets import TrainPanel

    panel = TrainPanel("iris", "mlp", workspace=ws)
    assert not panel.train_button.disabled
    assert set(panel.hparam_fields) == {"hidden", "layers", "dropout", "activation"}

    panel.hparam_fields["hidden"].value = 0
    assert "must be at least 1" in panel.hparam_fields["hidden"].error.value
    assert "any" not in panel.hparam_fields["hidden"].error.value
    assert panel.train_button.disabled
    panel.hparam_fields["hidden"].value = 32

    panel.hparam_fields["dropout"].value = 1.5
    assert "between 0.0 and 0.95" in panel.hparam_fields["dropout"].error.value
    panel.hparam_fields["dropout"].value = 0.1

    panel.lr.value = -1.0
    assert "greater than 0" in panel.lr.error.value
    assert panel.train_button.disabled
    panel.lr.value = 0.01

    panel.devices.value = "many"
    assert "accepted: &#x27;auto&#x27;" in panel.devices.error.value
    panel.train_button.click()  # disabled in the browser; a forced click starts nothing
    assert ws.jobs.list() == []
    assert "fix the fields" in panel.status.value
    panel.devices.value = "auto"
    assert not panel.train_button.disabled

    panel.family.value = "cnn"  # the controls follow the family
    assert "channels" in panel.hparam_fields and "activation" not in panel.hparam_fields


def test_train_errors_from_the_stage_show_in_the_panel(ws: Workspace) -> None:
    import torch

    from aimass_lab.widgets import TrainPanel

    panel = TrainPanel("iris", "cnn", workspace=ws)  # a CNN needs images; iris is tabular
    panel.train_button.click()
    assert "error" in panel.status.value and panel.run is None
    assert ws.jobs.list() == []
    if torch.cuda.device_count() == 0:
        panel.family.value = "mlp"
        panel.accelerator.value = "gpu"
        panel.train_button.click()
        assert "no CUDA GPU" in panel.status.value
        assert ws.jobs.list() == []


def test_failed_job_shows_its_reason_and_log_tail(ws: Workspace) -> None:
    from sqlalchemy import update

    from aimass_lab.train import Run, build_train_spec
    from aimass_lab.widgets import TrainPanel
    from aimass_lab.workspace._store import JobRow, utcnow

    spec = build_train_spec("iris", "mlp", workspace=ws, max_epochs=1)
    job = ws.jobs.create("train", spec.to_dict())
    ws.jobs.log_path(job.id).write_text(
        "loading data\nTraceback ...\nValueError: boom in epoch 1\n"
    )
    with ws.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(state="failed", exit_reason="ValueError: boom", finished_at=utcnow())
        )
    panel = TrainPanel(run=Run(job.id, ws))
    assert panel.refresh() is False
    assert "failed: ValueError: boom" in panel.status.value
    assert "boom in epoch 1" in panel.status.value  # the log tail, in the panel
    assert not panel.resume_button.disabled and panel.cancel_button.disabled
    assert panel.progress.bar_style == "danger"


# -- data ------------------------------------------------------------------------------------
def test_data_panel_loads_a_builtin_and_shows_report_and_balance(ws: Workspace) -> None:
    from aimass_lab.widgets import DataPanel

    panel = DataPanel(workspace=ws)
    loaded: list[object] = []
    panel.on_loaded.append(loaded.append)
    panel.builtin.value = "wine"
    panel.load_button.click()
    assert panel.dataset is not None and loaded == [panel.dataset]
    assert "wine" in panel.summary.value and "<table" in panel.report_view.value
    assert sum(panel.balance_chart.data[0].y) == 178
    panel.register_name.value = "iris"  # a built-in name is refused, next to the field
    assert "built-in dataset" in panel.register_name.error.value
    assert panel.register_button.disabled
    panel.register_name.value = "my-wine"
    panel.register_button.click()
    assert "registered <b>my-wine</b>" in panel.register_note.value
    assert "loaded wine" in panel.status.value  # the summary stays
    assert panel.registered.control.options == ("my-wine",)


def test_data_panel_split_and_file_errors(ws: Workspace, tmp_path: Path) -> None:
    from aimass_lab.widgets import DataPanel

    panel = DataPanel(workspace=ws)
    panel.val.value, panel.test.value = 0.6, 0.5
    assert "below 1" in panel.test.error.value and panel.load_button.disabled
    panel.val.value, panel.test.value = 0.2, 0.2
    assert not panel.load_button.disabled

    panel.source.value = "file"
    panel.path.value = str(tmp_path / "missing.csv")
    assert "file not found" in panel.path.error.value and panel.load_button.disabled
    csv = tmp_path / "houses.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"rooms": rng.integers(1, 6, 60), "area": rng.random(60), "price": rng.random(60)}
    ).to_csv(csv, index=False)
    panel.path.value = str(csv)
    # no column is named like a label: none is chosen, Load waits for the user's choice
    assert [v for _, v in panel.target.control.options] == ["", "rooms", "area", "price"]
    assert panel.target.value == "" and panel.load_button.disabled
    assert "rooms, area, price" in panel.target.error.value
    panel.target.value = "price"
    assert not panel.load_button.disabled
    ds = panel.load()
    assert ds is not None and ds.task == "regression"
    assert panel.balance_chart.layout.title.text.startswith("target distribution")


def test_data_panel_upload_selects_and_loads_the_registered_dataset(
    ws: Workspace, tmp_path: Path
) -> None:
    """The browser's ChunkedUpload reports through traitlets; the panel loads the dataset."""
    from aimass_lab import data
    from aimass_lab.widgets import DataPanel

    panel = DataPanel(workspace=ws)
    panel.source.value = "upload"
    panel.upload.filename = "small table.csv"
    assert panel.upload.name == "small-table-data"  # the panel's register name rule
    csv = tmp_path / "small table.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(20)))
    # what the server's finish does: register the uploaded file under the proposed name
    data.from_csv(csv, "label", name="small-table-data", workspace=ws)
    panel.upload.total = csv.stat().st_size
    panel.upload.dataset = "small-table-data"
    panel.upload.state = "done"
    assert panel.source.value == "registered" and panel.registered.value == "small-table-data"
    assert panel.dataset is not None
    assert "uploaded small table.csv (" in panel.status.value
    assert "small-table-data" in panel.status.value
    panel.upload.error, panel.upload.state = "sha256 mismatch", "failed"
    assert "sha256 mismatch" in panel.status.value


# -- search, compress, deploy forms ------------------------------------------------------------
def test_search_form_marks_bad_ranges_objectives_and_combinations(ws: Workspace) -> None:
    from aimass_lab.widgets import SearchPanel

    panel = SearchPanel("iris", "mlp", workspace=ws)
    assert set(panel.space()) == {"lr", "hidden"} and not panel.start_button.disabled
    # the same defaults as the spec and `aimass search`: pruner, space
    assert panel.pruner.value == SearchSpec.model_fields["pruner"].default == "median"
    assert panel.space() == default_space("mlp")

    panel.rows["lr"].low.value = -1.0
    assert "log scale needs positive bounds" in panel.rows["lr"].error.value
    assert panel.start_button.disabled
    panel.rows["lr"].low.value = 0.5  # low above high
    assert "must not exceed high" in panel.rows["lr"].error.value
    panel.rows["lr"].low.value = 1e-3

    panel.objectives.value = "val_acc"
    assert "is not &#x27;metric:min&#x27;" in panel.objectives.error.value
    panel.objectives.value = "val_acc:max, params:min"
    panel.pruner.value = "hyperband"
    assert "needs a single objective" in panel.pruner.error.value
    panel.pruner.value = "median"  # the default: no pruning with several objectives
    assert not panel.pruner.error.value
    panel.sampler.value = "cmaes"
    assert "single objective" in panel.sampler.error.value
    panel.sampler.value = "nsga2"
    assert not panel.start_button.disabled

    for row in panel.rows.values():
        row.include.value = False
    assert "search space is empty" in panel.space_error.value
    assert panel.start_button.disabled
    panel.rows["optimizer"].include.value = True
    assert panel.space() == {
        "optimizer": {"type": "categorical", "choices": ["adam", "adamw", "sgd"]}
    }
    panel.workers.value = 0
    assert "greater than or equal to 1" in panel.workers.error.value
    panel.start_button.click()
    assert "fix the fields" in panel.status.value and panel.study is None


def test_compress_and_deploy_forms_without_a_model(ws: Workspace) -> None:
    from aimass_lab.widgets import CompressPanel, DeployPanel

    cp = CompressPanel(workspace=ws)
    assert "no registered model" in cp.model.error.value and cp.run_button.disabled
    cp.methods["prune"].controls["ratio"].value = 1.5
    assert "strictly between 0 and 1" in cp.methods["prune"].error.value
    for row in cp.methods.values():
        row.include.value = False
    assert "tick at least one method" in cp.methods_error.value
    dp = DeployPanel(workspace=ws)
    assert "no registered model" in dp.model.error.value and dp.deploy_button.disabled
    dp.request.value = "[1, 2"
    assert "&#9888;" in dp.request_error.value and dp.predict_button.disabled


# -- display hooks and the workbench -----------------------------------------------------------
def test_handles_fall_back_to_html_outside_a_kernel(ws: Workspace) -> None:
    from aimass_lab import datasets

    ds = datasets.load("iris")
    bundle = ds._repr_mimebundle_()
    assert "text/html" in bundle and "text/plain" in bundle
    assert "application/vnd.jupyter.widget-view+json" not in bundle


def test_handles_show_their_panel_in_a_kernel(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab import datasets
    from aimass_lab.widgets import _display

    monkeypatch.setattr(aimass_lab._display, "in_kernel", lambda: True)
    ds = datasets.load("iris")
    bundle = ds._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "text/html" in bundle  # the fallback travels with the widget view
    panel = _display.panel_for(ds)
    assert panel.dataset is ds and "iris" in panel.summary.value


def test_workbench_holds_every_panel_and_closes_them(ws: Workspace) -> None:
    import aimass_lab as am
    from aimass_lab.widgets import (
        CompressPanel,
        DataPanel,
        DeployPanel,
        ModelsPanel,
        SearchPanel,
        TrainPanel,
    )

    wb = am.Workbench(workspace=ws)
    assert list(wb.tabs.titles) == ["Data", "Train", "Search", "Compress", "Models", "Deploy"]
    # Only the Data tab is built at first (and draws no empty chart): the rest on demand.
    assert [type(c) for slot in wb.tabs.children for c in slot.children] == [DataPanel]
    assert wb.data_panel._balance_chart is None
    search = wb.search_panel  # built before the dataset is loaded
    wb.data_panel.builtin.value = "wine"
    wb.data_panel.load()
    assert wb.data_panel.balance_chart.data[0].y  # the chart, once there is data
    assert search.data.value == "spec:wine"  # handed on to Search, built already...
    assert wb.tabs.children[1].children == ()
    wb.tabs.selected_index = 1  # ...and to Train, built when its tab is first shown
    assert isinstance(wb.tabs.children[1].children[0], TrainPanel)
    assert wb.train_panel.data.value == "spec:wine"
    assert wb.select("deploy") is wb.deploy_panel and wb.tabs.selected_index == 5
    kinds = [type(slot.children[0]) for slot in wb.tabs.children if slot.children]
    assert kinds == [DataPanel, TrainPanel, SearchPanel, DeployPanel]
    assert all(p.workspace is ws for p in wb.panels.values())
    kinds = [type(slot.children[0]) for slot in wb.tabs.children]
    assert kinds == [DataPanel, TrainPanel, SearchPanel, CompressPanel, ModelsPanel, DeployPanel]
    with pytest.raises(ValueError, match="unknown panel 'tarin'; accepted: data, train"):
        wb.select("tarin")
    wb.train_panel.start_polling()
    wb.close()
    assert not wb.train_panel.polling and wb.train_panel._closed


def test_lab_link_points_below_base_url() -> None:
    from aimass_lab.widgets._anywidgets import CopyText, LabLink, tensorboard_path

    link = LabLink(path=tensorboard_path("20260101-000000-abcdef"), label="TensorBoard")
    assert link.path.startswith("aimass-lab/tensorboard/20260101-000000-abcdef")
    assert not link.path.startswith("/")  # relative to the base_url the browser reads
    assert "jupyter-config-data" in LabLink._esm and "http" not in LabLink._esm
    assert "clipboard" in CopyText._esm


def test_refresh_from_another_thread_is_serialised(ws: Workspace) -> None:
    from aimass_lab.widgets import ModelsPanel

    panel = ModelsPanel(workspace=ws)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                panel._locked_refresh()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert "no registered model" in panel.status.value


def test_a_panel_names_its_button_where_a_message_suggests_a_cli_command(ws: Workspace) -> None:
    from aimass_lab.errors import AimassError
    from aimass_lab.serve.deploy._deploy import _check_same_model
    from aimass_lab.widgets import DeployPanel

    running = {"state": "running", "versions": [{"ref": "other:1"}]}
    with pytest.raises(AimassError) as info:
        _check_same_model(running, "ep", type("MV", (), {"name": "iris-mlp"})())  # type: ignore[arg-type]
    assert "aimass deployments stop ep" in str(info.value)  # the CLI's hint, from the stage
    panel = DeployPanel(workspace=ws)
    try:
        panel.show_error(info.value)
        assert "(the Stop endpoint button)" in panel.status.value
        assert "aimass deployments" not in panel.status.value
    finally:
        panel.close()


def test_compress_offers_the_model_just_registered(ws: Workspace, tmp_path: Path) -> None:
    from common_helpers import train_digits

    import aimass_lab as am

    first = train_digits(ws, tmp_path / "a", name="first-mlp", epochs=1)
    train_digits(ws, tmp_path / "b", name="second-mlp", epochs=1)
    wb = am.Workbench(workspace=ws)
    try:
        assert wb.compress_panel.model.value == "second-mlp:1"  # newest first
        for callback in wb.train_panel.on_registered:  # as the Train panel's Register does
            callback(first)
        assert wb.compress_panel.model.value == "first-mlp:1"
    finally:
        wb.close()
