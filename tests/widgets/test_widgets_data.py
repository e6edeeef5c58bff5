"""The Data panel's page of samples (thumbnails, rows, paging) and its bad-input messages."""

from __future__ import annotations

from html import escape as html_escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from common_helpers import write_bad_data, write_image_folder, write_scale_data

from aimass_lab import data
from aimass_lab.data._samples import Samples
from aimass_lab.errors import DataError
from aimass_lab.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


class _OnDemand(Samples):
    """A part that reads features on demand: preview works, take/torch_dataset fail loudly."""

    def __init__(self, inner: Samples) -> None:
        super().__init__(inner.labels)
        self.inner = inner
        self.pages: list[tuple[int, int]] = []

    def take(self, n: int | None = None, start: int = 0) -> Any:
        raise AssertionError("the front door read model-ready features")

    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        raise AssertionError("the front door built a torch dataset")

    def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
        self.pages.append((start, n))
        return self.inner.preview(n, start)


def test_image_folder_shows_thumbnails_pages_and_parts_without_reading_features(
    ws: Workspace, tmp_path: Path
) -> None:
    from aimass_lab.widgets import DataPanel

    root = write_image_folder(tmp_path / "pets", per_class=12)
    data.add("pets", {"source": "image_folder", "path": str(root)}, workspace=ws)
    dataset = data.load("pets", workspace=ws)
    dataset.parts = {name: _OnDemand(part) for name, part in dataset.parts.items()}
    with pytest.raises(DataError):
        dataset.X_train  # noqa: B018  (what the panel must not touch)

    panel = DataPanel(dataset, workspace=ws)
    view = panel.samples
    assert panel.last_error is None, panel.status.value
    assert view.view.value.count("<img src='data:image/png;base64,") == 12
    assert "cat" in view.view.value and "rows 1 to 12 of" in view.where.value
    assert view.prev_button.disabled and not view.next_button.disabled
    assert sum(panel.balance_chart.data[0].y) == 24  # the report's class balance

    view.next_button.click()
    total = len(dataset.y_train)
    assert view.page is not None and view.page["start"] == 12
    assert view.view.value.count("<img ") == total - 12
    assert f"rows 13 to {total} of {total}" in view.where.value
    assert view.next_button.disabled and not view.prev_button.disabled
    view.part.value = "test"
    assert view.page["part"] == "test" and view.start == 0
    assert view.view.value.count("<img ") == len(dataset.y_test)
    parts = dataset.parts
    assert isinstance(parts["train"], _OnDemand) and parts["train"].pages == [
        (0, 12),
        (12, total - 12),
    ]


def test_table_shows_raw_rows_with_class_labels(ws: Workspace) -> None:
    from aimass_lab.widgets import DataPanel

    panel = DataPanel(workspace=ws)
    panel.builtin.value = "iris"
    panel.load_button.click()
    html = panel.samples.view.value
    assert "aimass-rows" in html and "sepal length (cm)" in html
    assert any(name in html for name in ("setosa", "versicolor", "virginica"))


@pytest.mark.parametrize(("kind", "shown"), [("streamed table", "color"), ("text", "text")])
def test_a_page_of_a_streamed_table_or_of_text_shows_its_rows(
    ws: Workspace, tmp_path: Path, kind: str, shown: str
) -> None:
    from aimass_lab.widgets import DataPanel

    dataset = data.load(write_scale_data(tmp_path)[kind])
    assert kind == "text" or not dataset.in_memory  # the table is read on demand
    panel = DataPanel(dataset, workspace=ws)
    page = panel.samples.page
    assert panel.samples.error is None and page is not None, panel.samples.error
    assert page["kind"] == ("text" if kind == "text" else "tabular")
    html = panel.samples.view.value
    assert "aimass-rows" in html and f"<th>{shown}</th>" in html
    first = page["rows"][0]
    cell = first["text"] if kind == "text" else first["values"]["color"]
    assert f"<td>{html_escape(cell)}</td>" in html and f"<td>{first['label']}</td>" in html
    assert "rows 1 to 12 of" in panel.samples.where.value


def test_a_page_that_cannot_be_read_shows_its_error_in_the_view(ws: Workspace) -> None:
    from aimass_lab.widgets import DataPanel

    dataset = data.load("iris")

    class Broken(_OnDemand):
        def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
            raise DataError("cannot read the image /data/cat/7.png: truncated file")

    dataset.parts = {name: Broken(part) for name, part in dataset.parts.items()}
    panel = DataPanel(dataset, workspace=ws)
    assert "cannot read the image /data/cat/7.png" in panel.samples.view.value
    assert panel.samples.error is not None and panel.samples.next_button.disabled


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Bad inputs that each have a clear DataError today: ``{case: (spec, message)}``."""
    empty = write_image_folder(tmp_path / "empty-class")
    (empty / "bird").mkdir()
    broken = write_image_folder(tmp_path / "broken")
    (broken / "dog" / "bad.png").write_bytes(b"not a png at all")
    csv = tmp_path / "table.csv"
    pd.DataFrame({"a": np.arange(20), "label": ["x", "y"] * 10}).to_csv(csv, index=False)
    scale = write_bad_data(tmp_path / "scale")
    for bad in scale.values():
        bad.spoil()
    return {
        **{case: (bad.spec, bad.message) for case, bad in scale.items()},
        "empty class folder": (
            {"source": "image_folder", "path": str(empty)},
            "class folder(s) 'bird'",
        ),
        "unreadable image": (
            {"source": "image_folder", "path": str(broken), "on_bad_record": "error"},
            "bad.png",
        ),
        "missing column": (
            {"source": "csv", "path": str(csv), "target": "price"},
            "target column 'price' not found; columns: a, label",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty class folder",
        "unreadable image",
        "missing column",
        "missing text column",
        "tokenizer folder not found",
        "tokenizer folder without tokenizer.json",
        "text not UTF-8",
        "Parquet parts with different schemas",
    ],
)
def test_bad_input_shows_its_message_in_the_panel(ws: Workspace, tmp_path: Path, case: str) -> None:
    from aimass_lab.widgets import DataPanel

    spec, message = _bad_inputs(tmp_path)[case]
    data.add("ok", {"source": "builtin", "name": "iris"}, workspace=ws)
    panel = DataPanel(workspace=ws)
    panel.source.value = "registered"
    # the registered source with a bad spec: what a user registered before the files changed
    panel.data_arg = lambda: (spec, {})  # type: ignore[method-assign]
    assert panel.load() is None
    assert panel.last_error is not None and message in panel.last_error, panel.last_error
    assert "Traceback" not in panel.status.value


def test_an_image_that_breaks_after_loading_shows_a_warning_in_its_place(
    ws: Workspace, tmp_path: Path
) -> None:
    from aimass_lab.widgets import DataPanel

    root = write_image_folder(tmp_path / "pets", per_class=4)
    dataset = data.load({"source": "image_folder", "path": str(root)})
    first = dataset.preview("train", n=1)["rows"][0]
    assert "path" in first, first  # read on demand: the page names the files
    (root / first["path"]).write_bytes(b"truncated")
    panel = DataPanel(dataset, workspace=ws)
    html = panel.samples.view.value
    assert html.count("aimass-sample-error") == 1 and "cannot read the image" in html
    assert html.count("<img ") == len(dataset.y_train) - 1


def test_target_dropdown_preselects_a_label_column_and_register_name_follows_the_file(
    ws: Workspace, tmp_path: Path
) -> None:
    from aimass_lab.widgets import DataPanel

    rng = np.random.default_rng(0)
    points = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    points.assign(x3=rng.random(40)).to_csv(tmp_path / "points.csv", index=False)
    labelled = points.assign(x3=rng.random(40), Label=rng.choice(["a", "b"], 40))
    labelled.to_csv(tmp_path / "flowers v2.csv", index=False)

    panel = DataPanel(workspace=ws)
    panel.source.value = "file"
    panel.path.value = str(tmp_path / "points.csv")
    assert panel.target.value == "" and panel.load_button.disabled  # nothing guessed
    assert "x1, x2, x3" in panel.target.error.value
    panel.target.value = "x3"
    ds = panel.load()
    assert ds is not None and ds.spec.target == "x3"
    assert panel.register_name.value == "points-data"

    # another file: its label column is chosen (not the previous x3), the name follows it
    panel.path.value = str(tmp_path / "flowers v2.csv")
    assert panel.target.value == "Label" and not panel.load_button.disabled
    ds = panel.load()
    assert ds is not None and ds.task == "classification" and "x3" in ds.feature_names
    assert panel.register_name.value == "flowers-v2-data"
    # a name the user typed is kept on the next load
    panel.register_name.value = "my-flowers"
    panel.load()
    assert panel.register_name.value == "my-flowers"
