"""Every source on real data: CSV and Parquet files, image folders, SQLite and PostgreSQL, plugins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from PIL import Image

from aimass_lab import datasets
from aimass_lab.data import RawData, Source, load, register_source, unregister_source
from aimass_lab.errors import DataError, SpecError
from aimass_lab.specs import ENTRY_POINT_GROUP, DataSpec, source_names


def test_csv_source(csv_file: Path) -> None:
    ds = datasets.from_csv(csv_file, "label")
    assert ds.spec.source == "csv" and ds.name == "table.csv"
    assert ds.classes == ["a", "b", "c"] and ds.task == "classification"
    # age, income, color=blue/green/red, member=False/True
    assert ds.feature_names == [
        "age",
        "income",
        "color=blue",
        "color=green",
        "color=red",
        "member=False",
        "member=True",
    ]
    assert ds.input_shape == (7,) and not np.isnan(ds.X_train).any()
    assert (
        load({"source": "csv", "path": str(csv_file), "target": "label"}).fingerprint
        == ds.fingerprint
    )


def test_csv_options_reach_read_csv(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("a;b;y\n" + "".join(f"{i};{i * 2};{i % 2}\n" for i in range(40)))
    ds = datasets.from_csv(path, "y", options={"sep": ";"})
    assert ds.feature_names == ["a", "b"] and ds.classes == [0, 1]


def test_parquet_source_matches_csv(
    tmp_path: Path, mixed_frame: pd.DataFrame, csv_file: Path
) -> None:
    path = tmp_path / "table.parquet"
    mixed_frame.to_parquet(path, index=False)
    ds = datasets.from_parquet(path, "label")
    assert ds.input_shape == (7,) and ds.sizes == datasets.from_csv(csv_file, "label").sizes


def test_image_folder_rgb(tmp_path: Path, make_image_folder: Callable[..., Path]) -> None:
    root = make_image_folder(tmp_path / "rgb", mode="RGB", size=10)
    ds = datasets.from_images(root, image_size=16, split={"val": 0.25, "test": 0.25})
    assert ds.input_kind == "image" and ds.input_shape == (3, 16, 16)
    assert ds.classes == ["dark", "light"] and len(ds) == 12
    assert not ds.in_memory
    with pytest.raises(DataError, match=r"read from files on demand .* use dataset.take"):
        _ = ds.X_train
    # the pixels, read on demand, are the files' pixels resized and normalised
    state = ds.preprocessor.state_dict()
    X, y = ds.take("train", None)
    assert X.shape == (len(ds.y_train), 3, 16, 16) and X.dtype == np.float32
    assert np.array_equal(y, ds.y_train)
    raw = X * state["std"] + state["mean"]
    assert raw.min() >= -1e-5 and raw.max() <= 1.0 + 1e-5
    first = ds.parts["train"].paths[0].decode()
    expected = np.asarray(
        Image.open(first).convert("RGB").resize((16, 16), Image.Resampling.BILINEAR)
    )
    assert np.allclose(raw[0], expected.transpose(2, 0, 1) / 255.0, atol=1e-5)
    # light images are brighter than dark ones
    light = ds.classes.index("light")
    assert raw[y == light].mean() > raw[y != light].mean()
    # every row of every part is read once by a DataLoader (workers decode the files)
    dm = ds.datamodule(batch_size=4, num_workers=1)
    seen = sum(len(batch[1]) for batch in dm.train_dataloader())
    assert seen == ds.sizes["train"]


def test_image_folder_keeps_grayscale_and_default_size(
    tmp_path: Path, make_image_folder: Callable[..., Path]
) -> None:
    root = make_image_folder(tmp_path / "gray", mode="L", size=8)
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    ds = load({"source": "image_folder", "path": str(root)})
    assert ds.input_shape == (1, 32, 32) and ds.classes == ["dark", "light"]


def _write_sqlite(path: Path, frame: pd.DataFrame) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    frame.to_sql("people", engine, index=False)
    engine.dispose()
    return url


def test_sql_source_sqlite(tmp_path: Path, mixed_frame: pd.DataFrame) -> None:
    url = _write_sqlite(tmp_path / "data.db", mixed_frame)
    ds = datasets.from_sql(url, "SELECT age, income, color, label FROM people", "label")
    assert ds.feature_names == ["age", "income", "color=blue", "color=green", "color=red"]
    assert len(ds) == len(mixed_frame)
    filtered = load(
        {
            "source": "sql",
            "url": url,
            "query": "SELECT age, income, label FROM people WHERE income > :low",
            "target": "label",
            "options": {"params": {"low": 50_000}},
        }
    )
    assert len(filtered) == int((mixed_frame["income"] > 50_000).sum())


def test_sql_source_postgresql(pg_url: str, mixed_frame: pd.DataFrame) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    mixed_frame.to_sql("people", engine, index=False)
    engine.dispose()
    ds = datasets.from_sql(
        pg_url, "SELECT age, income, member, label FROM people ORDER BY income", "label"
    )
    assert ds.input_shape == (4,) and ds.classes == ["a", "b", "c"] and len(ds) == 120


def test_dataframe_and_numpy_sources_use_artifacts(
    sqlite_workspace, mixed_frame: pd.DataFrame
) -> None:
    ds = datasets.from_dataframe(mixed_frame, "label", workspace=sqlite_workspace)
    assert ds.spec.source == "dataframe" and ds.spec.path and ds.spec.path.startswith("sha256:")
    assert sqlite_workspace.artifacts.exists(ds.spec.path)
    X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    arrays = datasets.from_numpy(X, y, workspace=sqlite_workspace, feature_names=["a", "b", "c"])
    assert arrays.feature_names == ["a", "b", "c"] and arrays.classes == [0, 1]
    # the same arrays give the same artifact
    again = datasets.from_numpy(X, y, workspace=sqlite_workspace, feature_names=["a", "b", "c"])
    assert again.spec.path == arrays.spec.path and again.fingerprint == arrays.fingerprint
    images = datasets.from_numpy(np.random.default_rng(1).random((20, 6, 6)), np.arange(20) % 2)
    assert images.input_kind == "image" and images.input_shape == (1, 6, 6)


class Squares(Source):
    """A plugin source: x and x**2 + noise."""

    name = "squares"

    def load(self, spec: DataSpec, workspace: object) -> RawData:
        n = int(spec.options.get("n", 50))
        x = np.arange(n, dtype=np.float64)
        return RawData(pd.DataFrame({"x": x, "y": x**2 + 0.5}), task="regression")


@pytest.fixture
def squares() -> Iterator[None]:
    register_source("squares", Squares)
    yield
    unregister_source("squares")


def test_registered_plugin_source(squares: None) -> None:
    assert "squares" in source_names()
    ds = load({"source": "squares", "target": "y", "options": {"n": 40}})
    assert ds.task == "regression" and len(ds) == 40
    # by import path, as the entry-point group would give it
    register_source("squares2", f"{__name__}:Squares")
    try:
        assert load({"source": "squares2", "target": "y"}).input_shape == (1,)
    finally:
        unregister_source("squares2")
    assert ENTRY_POINT_GROUP == "aimass_lab.sources"


def test_unregistered_plugin_is_unknown() -> None:
    with pytest.raises(SpecError, match=r"unknown source 'squares'; accepted: 'builtin', 'csv'"):
        DataSpec(source="squares")


def test_bad_plugins_are_refused() -> None:
    with pytest.raises(SpecError, match="'csv' is a core source and cannot be replaced"):
        register_source("csv", Squares)
    with pytest.raises(SpecError, match=r"expected a subclass of aimass_lab\.data\.Source"):
        register_source("thing", dict)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"cannot import the source 'ghost' \('no_such_module:X'"):
        register_source("ghost", "no_such_module:X")
    with pytest.raises(DataError, match=r"is not a subclass of aimass_lab\.data\.Source"):
        register_source("notsource", "pandas:DataFrame")


def test_plugin_must_return_rawdata() -> None:
    class Broken(Source):
        name = "broken"

        def load(self, spec: DataSpec, workspace: object) -> RawData:
            return pd.DataFrame({"x": [1]})  # type: ignore[return-value]

    register_source("broken", Broken)
    try:
        with pytest.raises(
            DataError,
            match=r"returned DataFrame; a Source\.load must return aimass_lab\.data\.RawData",
        ):
            load({"source": "broken", "target": "x"})
    finally:
        unregister_source("broken")
