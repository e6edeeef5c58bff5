"""Pages of samples (Dataset.preview, Samples.preview) and thumbnails: what the front doors show."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aimass_lab import datasets
from aimass_lab.data._samples import MAX_PREVIEW_ROWS, Samples
from aimass_lab.data._thumbs import thumbnail_uri
from aimass_lab.errors import DataError


def _png(uri: str) -> Image.Image:
    head, data = uri.split(",", 1)
    assert head == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_thumbnail_of_arrays_and_pillow_images_keeps_the_aspect_ratio() -> None:
    rgb = np.linspace(0, 1, 3 * 100 * 200, dtype=np.float32).reshape(3, 100, 200)
    img = _png(thumbnail_uri(rgb, size=64))
    assert img.size == (64, 32) and img.mode == "RGB"
    gray = _png(thumbnail_uri(np.ones((1, 10, 10), dtype=np.float32)))
    assert gray.size == (10, 10) and gray.mode == "L"  # small images are not enlarged
    assert gray.getpixel((0, 0)) == 255
    pil = _png(thumbnail_uri(Image.new("P", (300, 150)), size=30))
    assert pil.size == (30, 15)
    with pytest.raises(DataError, match=r"\(C, H, W\) array with C 1, 3 or 4"):
        thumbnail_uri(np.zeros((5, 4, 7)))


def test_table_page_shows_raw_cells_and_class_labels(mixed_frame: pd.DataFrame) -> None:
    ds = datasets.from_dataframe(mixed_frame, target="label")
    page = ds.preview("train", start=2, n=3)
    assert page["part"] == "train" and page["kind"] == "tabular" and page["start"] == 2
    assert page["total"] == len(ds.y_train)
    json.dumps(page, allow_nan=False)  # JSON as it is: NaN became None
    rows = page["rows"]
    assert [r["index"] for r in rows] == [2, 3, 4]
    for row in rows:
        raw = mixed_frame.iloc[int(ds.indices["train"][row["index"]])]
        assert row["label"] == raw["label"]  # the class label, not its index
        assert set(row["values"]) == {"age", "income", "color", "member"}  # raw, not one-hot
        assert row["values"]["color"] == raw["color"]
    # the last page is short; an empty part gives no rows
    last = ds.preview("test", start=len(ds.y_test) - 1, n=12)
    assert len(last["rows"]) == 1


def test_image_page_gives_thumbnails(
    tmp_path: Path, make_image_folder: Callable[..., Path]
) -> None:
    root = make_image_folder(tmp_path / "imgs", size=80)
    ds = datasets.load({"source": "image_folder", "path": str(root), "image_size": 80})
    page = ds.preview("train", n=MAX_PREVIEW_ROWS)
    assert page["kind"] == "image" and len(page["rows"]) == page["total"] == len(ds.y_train)
    for row in page["rows"]:
        assert row["label"] in ("dark", "light")
        img = _png(row["thumbnail"])
        assert img.size == (64, 64) and img.mode == "RGB"
        # the raw image, not the normalised one: 'light' images are bright
        mean = float(np.asarray(img, dtype=np.float32).mean())
        assert (mean > 80) == (row["label"] == "light"), (row["label"], mean)


def test_regression_labels_are_numbers_and_the_fallback_page_is_preprocessed() -> None:
    ds = datasets.load("diabetes")
    row = ds.preview("val", n=1)["rows"][0]
    assert isinstance(row["label"], float) and row["label"] == pytest.approx(float(ds.y_val[0]))
    # Samples.preview (the base class) shows model-ready values from take()
    fallback: list[dict[str, Any]] = Samples.preview(ds.parts["val"], 1, 0)
    assert fallback[0]["values"]["x0"] == pytest.approx(float(ds.take("val", 1)[0][0, 0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"part": "training"}, r"unknown part 'training'; accepted: 'train', 'val', 'test'"),
        ({"n": 0}, r"1 to 100 rows; got n=0"),
        ({"n": 101}, r"1 to 100 rows; got n=101"),
        ({"start": -1}, r"start=-1 is out of range for part 'train' .* accepted: 0 to \d+"),
        ({"start": 10_000}, r"start=10000 is out of range .* has \d+ rows"),
    ],
)
def test_bad_page_arguments_name_the_limits(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        datasets.load("iris").preview(**kwargs)
