"""GET datasets/{name}/samples and datasets/{name}/report, and bad input through the REST API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from common_helpers import write_bad_data, write_image_folder, write_scale_data
from lab_helpers import api_error, api_json

from aimass_lab import data
from aimass_lab.lab._datasets_api import DatasetCache
from aimass_lab.workspace import Workspace


async def test_a_page_of_image_thumbnails_and_the_report(
    jp_fetch: Any, ws_path: Path, tmp_path: Path
) -> None:
    root = write_image_folder(tmp_path / "pets", per_class=10)
    data.add("pets", {"source": "image_folder", "path": str(root)}, workspace=Workspace(ws_path))
    page = await api_json(
        jp_fetch, "datasets", "pets", "samples", params={"part": "train", "limit": "5"}
    )
    assert page["part"] == "train" and page["kind"] == "image" and page["start"] == 0
    assert page["total"] >= 10 and [r["index"] for r in page["rows"]] == [0, 1, 2, 3, 4]
    for row in page["rows"]:
        assert row["label"] in ("cat", "dog")
        assert row["thumbnail"].startswith("data:image/png;base64,")
    last = await api_json(
        jp_fetch, "datasets", "pets", "samples", params={"start": str(page["total"] - 1)}
    )
    assert len(last["rows"]) == 1  # the default page (12) stops at the part's end
    report = await api_json(jp_fetch, "datasets", "pets", "report")
    assert report["class_balance"] == {"cat": 10, "dog": 10}


async def test_table_rows_have_raw_values(jp_fetch: Any) -> None:
    page = await api_json(jp_fetch, "datasets", "iris", "samples", params={"part": "test"})
    assert page["kind"] == "tabular" and len(page["rows"]) == 12
    row = page["rows"][0]
    assert row["label"] in ("setosa", "versicolor", "virginica")
    assert set(row["values"]) == {
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    }


@pytest.mark.parametrize("kind", ["streamed table", "text"])
async def test_a_page_of_a_streamed_table_or_of_text(
    jp_fetch: Any, ws_path: Path, tmp_path: Path, kind: str
) -> None:
    spec = write_scale_data(tmp_path)[kind]
    dataset = data.add("big", spec, workspace=Workspace(ws_path))
    params = {"part": "val", "start": "1", "limit": "3"}
    page = await api_json(jp_fetch, "datasets", "big", "samples", params=params)
    assert page == json.loads(json.dumps(dataset.preview("val", 1, 3)))
    assert page["kind"] == ("text" if kind == "text" else "tabular") and page["start"] == 1
    assert [r["index"] for r in page["rows"]] == [1, 2, 3]
    for row in page["rows"]:
        if kind == "text":
            assert isinstance(row["text"], str) and row["text"]
            assert row["label"] in ("negative", "positive")
        else:
            assert set(row["values"]) == {"x", "color"} and row["label"] in ("a", "b")
            assert row["label"] == ("a" if row["values"]["x"] % 2 == 0 else "b")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"part": "training"}, "part", "accepted: train, val, test"),
        ({"limit": "0"}, "limit", "expected 1 to 100 rows per page"),
        ({"limit": "101"}, "limit", "expected 1 to 100 rows per page"),
        ({"limit": "ten"}, "limit", "expected an integer"),
        ({"start": "-1"}, "start", "0 or more"),
    ],
)
async def test_bad_page_parameters_are_422_naming_the_field(
    jp_fetch: Any, params: dict[str, str], field: str, message: str
) -> None:
    code, body = await api_error(jp_fetch, "datasets", "iris", "samples", params=params)
    assert code == 422, body
    assert body["errors"][0]["field"] == field and message in body["errors"][0]["message"]


async def test_start_past_the_end_and_unknown_datasets(jp_fetch: Any) -> None:
    code, body = await api_error(jp_fetch, "datasets", "iris", "samples", params={"start": "999"})
    assert code == 422 and "start=999 is out of range" in body["error"]
    assert "accepted: 0 to " in body["error"]
    for route in ("samples", "report"):
        code, body = await api_error(jp_fetch, "datasets", "mnist", route)
        assert code == 404 and "unknown dataset 'mnist'" in body["error"]


async def test_bad_input_is_a_422_with_the_message(
    jp_fetch: Any, ws_path: Path, tmp_path: Path
) -> None:
    """Data that was fine when registered and broke after: each route says what is wrong."""
    ws = Workspace(ws_path)
    empty = write_image_folder(tmp_path / "empty")
    data.add("empty-class", {"source": "image_folder", "path": str(empty)}, workspace=ws)
    (empty / "bird").mkdir()
    broken = write_image_folder(tmp_path / "broken")
    data.add("broken", {"source": "image_folder", "path": str(broken)}, workspace=ws)
    (broken / "dog" / "bad.png").write_bytes(b"not a png")
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": np.arange(20), "price": np.arange(20.0)}).to_csv(csv, index=False)
    data.add("table", {"source": "csv", "path": str(csv), "target": "price"}, workspace=ws)
    pd.DataFrame({"a": np.arange(20), "cost": np.arange(20.0)}).to_csv(csv, index=False)
    cases = {
        "empty-class": "class folder(s) 'bird'",
        "broken": "bad.png",
        "table": "target column 'price' not found",
    }
    for i, bad in enumerate(write_bad_data(tmp_path / "scale").values()):
        data.add(f"scale-{i}", bad.spec, workspace=ws)
        bad.spoil()
        cases[f"scale-{i}"] = bad.message
    for name, message in cases.items():
        for route in (("samples",), ("report",), ()):
            code, body = await api_error(jp_fetch, "datasets", name, *route)
            assert code == 422 and message in body["error"], (name, route, body)


def test_the_cache_keeps_a_dataset_until_it_is_registered_again(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    data.add("mine", {"source": "builtin", "name": "iris"}, workspace=ws)
    cache = DatasetCache(size=2)
    first = cache.get("mine", ws)
    assert cache.get("mine", ws) is first and cache.get("iris", ws) is not first
    data.add("mine", {"source": "builtin", "name": "wine"}, workspace=ws)
    again = cache.get("mine", ws)
    assert again is not first and again.num_classes == 3 and len(again) == 178


async def test_a_training_on_a_table_without_a_chosen_target_is_refused(
    jp_fetch: Any, tmp_path: Path
) -> None:
    path = tmp_path / "points.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"x1": rng.normal(size=30), "x2": rng.normal(size=30)}).to_csv(path, index=False)
    spec = {"data": {"source": "csv", "path": str(path)}, "model": {"family": "mlp"}}
    body = json.dumps({"kind": "train", "spec": spec})
    code, payload = await api_error(jp_fetch, "jobs", method="POST", body=body)
    assert code == 422, payload
    assert payload["errors"][0]["field"] == "target"
    message = payload["errors"][0]["message"]
    assert "columns: 'x1', 'x2'" in message and '"target" in the REST body' in message
