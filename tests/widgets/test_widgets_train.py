"""TrainPanel with a real short training: click, cancel, resume, watch the chart, register."""

from __future__ import annotations

from typing import Any

import aimass_lab._display


def test_train_button_starts_a_job_that_cancel_and_resume_control(trained: dict[str, Any]) -> None:
    events = trained["events"]
    run = trained["run"]
    assert events["error_after_click"] is None
    assert events["polling_after_click"]  # the click started the poller
    assert [j.id for j in events["jobs_after_click"]] == [run.id]
    hparams = events["jobs_after_click"][0].spec["model"]["hparams"]
    assert hparams["hidden"] == 16
    assert events["train_disabled_while_active"] and events["cancel_enabled_while_active"]
    assert events["cancel_asks"]  # Cancel asked first (the confirm row), the run kept running
    assert events["state_after_cancel"] in ("cancelled", "interrupted")
    assert "Resume continues" in events["status_after_cancel"]
    assert events["resume_enabled_after_cancel"]
    assert run.status == "succeeded"


def test_the_chart_gains_points_and_the_end_shows_a_confusion_matrix(
    trained: dict[str, Any],
) -> None:
    panel = trained["panel"]
    index = panel._trace_index
    assert len(panel.chart.data[index["train_loss"]].x) > 0
    assert len(panel.chart.data[index["val_loss"]].x) == 2  # one point per epoch
    assert len(panel.chart.data[index["val_acc"]].y) == 2
    assert panel.progress.value == 1.0 and "succeeded" in panel.eta.value
    assert "aimass-lab/tensorboard/" + panel.run.id in panel.tensorboard.path
    assert panel.evaluation is not None and panel.evaluation["matrix"].shape == (3, 3)
    assert panel.evaluation_box.children[0].data[0].type == "heatmap"
    assert "log tail" in panel.log_view.value
    assert not panel.train_button.disabled and panel.cancel_button.disabled

    panel.compare_runs.value = (panel.run.id,)
    assert len(panel.compare_chart.data) == 1 and len(panel.compare_chart.data[0].y) == 2
    panel.compare_metric.value = "val_acc"
    assert panel.compare_chart.layout.yaxis.title.text == "val_acc"


def test_register_from_the_panel_and_browse_it(trained: dict[str, Any]) -> None:
    from aimass_lab.widgets import ModelsPanel

    events = trained["events"]
    # the note sits beside the Register button; the run's summary stays in the status line
    assert "registered <b>iris-mlp:1</b>" in events["note_after_register"]
    assert events["status_after_register"] == events["status_before_register"]
    panel = trained["panel"]
    panel.register_name.value = "bad name!"
    assert panel.register_button.disabled and "&#9888;" in panel.register_name.error.value
    panel.register_name.value = "iris-mlp"

    models = ModelsPanel("iris-mlp:1", workspace=trained["workspace"])
    assert models.versions.value == "iris-mlp:1"
    kinds = [n["kind"] for n in models.lineage_nodes]
    assert kinds[:3] == ["dataset", "run", "version"]
    assert list(models.lineage_chart.data[1].x) == list(range(len(kinds)))
    models.alias.value = "bad alias!"
    assert models.set_alias_button.disabled and "&#9888;" in models.alias.error.value
    models.alias.value = "staging"
    models.set_alias_button.click()
    assert "iris-mlp:staging now points to iris-mlp:1" in models.status.value
    assert "v1 [staging]" in dict(models.versions.options)
    models.remove_alias_button.click()  # asks first, naming the alias and the version
    assert models.confirm.asking and "Remove alias staging from iris-mlp:1?" in (
        models.confirm.question.value
    )
    models.confirm.no.click()
    assert not models.confirm.asking and "v1 [staging]" in dict(models.versions.options)
    models.remove_alias_button.click()
    models.confirm.yes.click()
    assert "alias staging removed" in models.status.value
    assert "v1 [staging]" not in dict(models.versions.options)


def test_run_shows_its_panel_as_rich_display(trained: dict[str, Any], monkeypatch: Any) -> None:
    from aimass_lab.widgets import TrainPanel, _display

    monkeypatch.setattr(aimass_lab._display, "in_kernel", lambda: True)
    bundle = trained["run"]._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    panel = _display.panel_for(trained["run"])
    assert isinstance(panel, TrainPanel) and not panel.polling  # the run has ended
    assert len(panel.chart.data[panel._trace_index["val_loss"]].x) == 2
    panel.close()
