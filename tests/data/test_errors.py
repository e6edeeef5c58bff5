"""Every bad input gives an error whose message says what was wrong and what is accepted."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.data import load
from aimass_lab.errors import AimassWarning, DataError, NotFoundError, SpecError
from aimass_lab.workspace import Workspace


def test_unknown_name_lists_builtins_and_registered(sqlite_workspace: Workspace) -> None:
    datasets.add("my-flowers", "iris")
    with pytest.raises(NotFoundError) as info:
        load("irsi")
    message = str(info.value)
    assert message.startswith("unknown dataset 'irsi'; built-in datasets: 'iris', 'digits'")
    assert "registered in this workspace: 'my-flowers'" in message
    with pytest.raises(NotFoundError, match="unknown dataset 'nope'"):
        datasets.get("nope")


def test_bad_data_argument() -> None:
    with pytest.raises(
        SpecError, match=r"got 'int': expected a dataset name, a dict, a DataSpec or a Dataset"
    ):
        load(42)
    with pytest.raises(SpecError, match=r"unknown field 'colour'; accepted: source, name"):
        load("iris", colour="red")
    with pytest.raises(
        SpecError,
        match=r"unknown option\(s\) 'n_rows' for the generator 'moons'; accepted: .*'n_samples'",
    ):
        load("moons", options={"n_rows": 10})
    with pytest.raises(SpecError, match="the bundled dataset 'iris' takes no options"):
        load("iris", options={"n_samples": 10})


def test_target_column_missing(csv_file: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"^target column 'x' not found; columns: age, income, color, member, label$",
    ):
        datasets.from_csv(csv_file, "x")


def test_csv_and_parquet_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(
        DataError, match=rf"^CSV file not found: {re.escape(str(missing))}; check the path"
    ):
        datasets.from_csv(missing, "y")
    with pytest.raises(DataError, match=r"^Parquet file not found: .*nope.parquet"):
        datasets.from_parquet(tmp_path / "nope.parquet", "y")
    with pytest.raises(DataError, match="it is a folder, not a file"):
        datasets.from_csv(tmp_path, "y")


def test_nan_in_target(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(10), "y": [0, 1, None, 1, 0, None, 1, 0, 1, 0]}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError) as info:
        datasets.from_csv(path, "y")
    assert str(info.value) == (
        "target column 'y' has 2 missing value(s) (NaN) in 2 of 10 rows (row positions 2, 5); "
        "drop those rows before loading, e.g. df = df.dropna(subset=['y']), or fill them in"
    )


def test_features_that_do_not_exist(csv_file: Path) -> None:
    with pytest.raises(
        DataError, match=r"^feature column\(s\) 'height', 'weight' not found; columns: age, income"
    ):
        datasets.from_csv(csv_file, "label", features=["age", "height", "weight"])
    with pytest.raises(DataError, match="the target column 'label' cannot also be a feature"):
        datasets.from_csv(csv_file, "label", features=["age", "label"])


def test_empty_tables(tmp_path: Path) -> None:
    header_only = tmp_path / "empty.csv"
    header_only.write_text("x,y\n")
    with pytest.raises(
        DataError, match=r"^the data is empty: source 'csv' \(.*empty.csv\) gave 0 rows"
    ):
        datasets.from_csv(header_only, "y")
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("")
    with pytest.raises(
        DataError, match=r"the CSV file .*nothing.csv is empty: it has no header and no rows"
    ):
        datasets.from_csv(nothing, "y")
    only_target = tmp_path / "only.csv"
    only_target.write_text("y\n1\n2\n")
    with pytest.raises(
        DataError, match=r"there are no feature columns: .* holds only the target 'y'"
    ):
        datasets.from_csv(only_target, "y")


def test_too_few_rows_to_split(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("x,y\n1,0\n2,1\n")
    with pytest.raises(
        DataError, match=r"cannot split 2 rows with val=0.15, test=0.15: .* Use more data"
    ):
        datasets.from_csv(path, "y")


def test_regression_target_must_be_numeric(csv_file: Path) -> None:
    with pytest.raises(
        DataError,
        match=r"target column 'label' holds non-numbers \(dtype .*, e.g. '.'\); a regression",
    ):
        datasets.from_csv(csv_file, "label", task="regression")


def test_image_folder_errors(tmp_path: Path, make_image_folder: Callable[..., Path]) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.png").write_bytes(b"")
    with pytest.raises(
        DataError,
        match=r"^image folder .*flat has no class subfolders; put the images of each class",
    ):
        datasets.from_images(flat)
    with pytest.raises(DataError, match=r"^image folder not found: .*nowhere"):
        datasets.from_images(tmp_path / "nowhere")
    root = make_image_folder(tmp_path / "imgs")
    (root / "empty").mkdir()
    with pytest.raises(
        DataError,
        match=r"class folder\(s\) 'empty' in .* hold no images; accepted file types: .png",
    ):
        datasets.from_images(root)
    (root / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(
        DataError,
        match=r"1 unreadable image file\(s\) in .*imgs: .*broken.png: not an image format "
        r"Pillow knows.*set on_bad_record='skip'",
    ):
        datasets.from_images(root)


def test_sql_query_failure_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with pytest.raises(
        DataError, match=r"the SQL query failed on sqlite:///.*db.sqlite: no such table: nope"
    ):
        datasets.from_sql(url, "SELECT * FROM nope", "y")


def test_sql_query_failure_postgresql_hides_the_password(pg_url: str) -> None:
    with_password = pg_url.replace("postgres@", "postgres:s3cret@", 1)
    with pytest.raises(DataError) as info, pytest.warns(AimassWarning, match="holds a password"):
        datasets.from_sql(with_password, "SELECT * FROM nope", "y")
    message = str(info.value)
    assert message.startswith("the SQL query failed on postgresql+psycopg://postgres:***@")
    assert 'relation "nope" does not exist' in message and "s3cret" not in message


def test_stored_data_from_another_workspace(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ds = datasets.from_numpy(np.zeros((10, 2)), np.arange(10) % 2, split={"val": 0.2, "test": 0.2})
    other = Workspace(tmp_path / "other")
    with pytest.raises(
        DataError, match=r"the numpy data sha256:.* is not in the workspace .*other"
    ):
        load(ds.spec, workspace=other)
    with pytest.raises(DataError, match=r"source 'numpy' needs path='sha256:<hex>'"):
        load({"source": "numpy", "path": "/tmp/x.npz"})
