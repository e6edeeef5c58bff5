"""SearchPanel with a real (tiny) search: start, live charts, pick a point, register it."""

from __future__ import annotations

from pathlib import Path

import pytest
from widgets_helpers import poll_until, stop_polling

import aimass_lab._display
from aimass_lab.workspace import Workspace


def test_search_panel_runs_a_study_and_registers_a_clicked_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import SearchPanel

    ws = Workspace(tmp_path / "ws")
    panel = SearchPanel("iris", "mlp", workspace=ws)
    panel.max_epochs.value = 1
    panel.n_trials.value = 2
    panel.sampler.value = "random"
    panel.objectives.value = "val_acc:max"
    panel.rows["hidden"].low.value = 8
    panel.rows["hidden"].high.value = 16
    panel.study_name.value = "panel-study"
    panel.start_button.click()
    assert panel.last_error is None, panel.status.value
    assert panel.study is not None and panel.study.name == "panel-study"
    assert [j.spec["study"] for j in ws.jobs.list(kind="search")] == ["panel-study"]
    stop_polling(panel)  # and wait: a refresh under way would show an older state after ours
    poll_until(panel.refresh)

    study = panel.study
    complete = [t for t in study.trial_results() if t.state == "COMPLETE"]
    assert complete, study.trial_results()
    history = panel.history_chart.data[0]
    assert list(history.x) == [t.number for t in complete]
    assert len(panel.history_chart.data[1].y) == len(complete)  # best so far
    pruned = [t for t in study.trial_results() if t.state == "PRUNED"]
    inter = panel.intermediate_chart.data
    assert inter[0].x.count(None) == len(complete)  # one line per complete trial
    assert inter[1].x.count(None) == len(pruned)  # pruned trials apart, dashed
    assert inter[1].line.dash == "dash"
    labels = [d["label"] for d in panel.parallel_chart.data[0].dimensions]
    assert labels == ["hidden", "lr", "val_acc"]
    assert "finished" in panel.status.value and panel.stop_button.disabled
    assert panel.pareto_box.layout.display == "none"  # one objective: no Pareto front
    # two trials: too few for importances, and the empty chart says so
    assert not panel.importance_chart.data[0].x
    notes = [a.text for a in panel.importance_chart.layout.annotations]
    assert notes == ["shown once 3 trials have finished"], notes
    assert panel.importance_chart.layout.xaxis.visible is False
    panel._update_importances(study, multi=False)  # what a refresh does from 3 trials on
    assert set(panel.importance_chart.data[0].y) == {"hidden", "lr"}
    assert not panel.importance_chart.layout.annotations
    assert panel.importance_chart.layout.xaxis.visible is True
    # fixed widths: a chart first drawn in a hidden tab is not clipped by its box
    assert panel.history_chart.layout.width == panel.intermediate_chart.layout.width == 460

    assert panel.register_point_button.disabled  # nothing picked yet
    first = complete[0].number

    class Points:
        point_inds = [0]

    panel._on_point_click(history, Points())  # what a click on the first point sends
    assert panel.selected_trial == first
    assert f"trial {first}" in panel.selected_label.value
    panel.register_name.value = "iris-search"
    panel.register_point_button.click()
    assert "registered iris-search:1" in panel.status.value, panel.status.value
    panel.register_best_button.click()
    assert "registered iris-search:2" in panel.status.value

    from aimass_lab import registry

    mv = registry.get("iris-search:1", workspace=ws)
    assert mv.lineage["study"] == "panel-study" and mv.lineage["trial"] == first

    from aimass_lab.widgets import _display

    monkeypatch.setattr(aimass_lab._display, "in_kernel", lambda: True)
    assert "application/vnd.jupyter.widget-view+json" in study._repr_mimebundle_()
    shown = _display.panel_for(study)
    assert isinstance(shown, SearchPanel) and not shown.polling
    assert list(shown.history_chart.data[0].x) == [t.number for t in complete]
    assert shown.study_name.value == "panel-study" and shown.n_trials.value == 2
    shown.close()
