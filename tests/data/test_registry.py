"""Registered datasets on SQLite and PostgreSQL stores, and the from_* round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.errors import AimassWarning, NotFoundError, SpecError
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import DatasetRow


def test_add_get_list_remove(workspace: Workspace, csv_file: Path) -> None:
    ds = datasets.add(
        "iris-seed3", {"name": "iris", "split": {"seed": 3}}, description="iris, another split"
    )
    assert ds.name == "iris-seed3" and ds.registered
    with workspace.store.session() as session:
        row = session.get(DatasetRow, "iris-seed3")
        assert row is not None and row.fingerprint == ds.fingerprint
        assert row.spec["split"]["seed"] == 3 and row.spec["task"] == "classification"
    again = datasets.get("iris-seed3")
    assert again.fingerprint == ds.fingerprint and again.name == "iris-seed3"
    assert np.array_equal(again.indices["test"], ds.indices["test"])
    # by name through load(), with overrides on top of the registered spec
    assert datasets.load("iris-seed3", workspace=workspace, split={"seed": 4}).spec.split.seed == 4
    datasets.from_csv(csv_file, "label", name="people", description="a CSV")
    listing = {d["name"]: d for d in datasets.list()}
    assert listing["iris"]["registered"] is False and listing["iris"]["source"] == "builtin"
    assert listing["people"] == {
        "name": "people",
        "source": "csv",
        "task": "classification",
        "description": "a CSV",
        "registered": True,
        "fingerprint": datasets.get("people").fingerprint,
        "created_at": listing["people"]["created_at"],
    }
    assert {"iris-seed3", "people"} <= set(listing)
    datasets.remove("people")
    assert "people" not in {d["name"] for d in datasets.list(workspace)}
    with pytest.raises(
        NotFoundError, match=r"no registered dataset 'people'; registered: 'iris-seed3'"
    ):
        datasets.remove("people")


def test_re_adding_replaces(workspace: Workspace) -> None:
    first = datasets.add("flowers", "iris")
    second = datasets.add("flowers", {"name": "iris", "split": {"seed": 9}}, description="seed 9")
    assert second.fingerprint != first.fingerprint
    rows = [d for d in datasets.list() if d["name"] == "flowers"]
    assert len(rows) == 1 and rows[0]["description"] == "seed 9"


def test_dataframe_round_trip_in_a_fresh_workspace_object(
    workspace: Workspace, mixed_frame: pd.DataFrame
) -> None:
    ds = datasets.from_dataframe(
        mixed_frame, "label", name="people", workspace=workspace, description="people"
    )
    fresh = Workspace(workspace.path, db_url=workspace.db_url)
    loaded = datasets.get("people", workspace=fresh)
    assert loaded.fingerprint == ds.fingerprint and loaded.spec.path == ds.spec.path
    assert np.array_equal(loaded.X_test, ds.X_test) and loaded.classes == ["a", "b", "c"]


def test_numpy_round_trip_in_a_fresh_workspace_object(workspace: Workspace) -> None:
    rng = np.random.default_rng(0)
    X = rng.random((40, 3, 6, 6)).astype(np.float32)
    y = np.array(["cat", "dog"] * 20)
    ds = datasets.from_numpy(X, y, name="pets", workspace=workspace, augment={"flip": True})
    fresh = Workspace(workspace.path, db_url=workspace.db_url)
    loaded = datasets.load("pets", workspace=fresh)
    assert loaded.input_shape == (3, 6, 6) and loaded.classes == ["cat", "dog"]
    assert loaded.fingerprint == ds.fingerprint and loaded.spec.augment.flip


def test_changed_data_warns(
    workspace: Workspace, tmp_path: Path, mixed_frame: pd.DataFrame
) -> None:
    path = tmp_path / "drift.csv"
    mixed_frame.to_csv(path, index=False)
    datasets.from_csv(path, "label", name="drift")
    mixed_frame.assign(age=mixed_frame["age"] + 1).to_csv(path, index=False)
    with pytest.warns(
        AimassWarning, match=r"the data behind dataset 'drift' changed since it was registered"
    ):
        datasets.get("drift")


def test_registry_names_are_checked(workspace: Workspace) -> None:
    with pytest.raises(SpecError, match=r"'iris' is a built-in dataset; choose another name"):
        datasets.add("iris", "wine")
    with pytest.raises(SpecError, match=r"name: got 'a/b': a dataset name is 1-200 letters"):
        datasets.add("a/b", "wine")
    with pytest.raises(SpecError, match="built-in datasets cannot be removed"):
        datasets.remove("iris")


def test_add_copies_stored_data_from_another_workspace(
    tmp_path: Path, workspace: Workspace
) -> None:
    other = Workspace(tmp_path / "other")
    ds = datasets.from_numpy(np.arange(40.0).reshape(20, 2), np.arange(20) % 2, workspace=other)
    assert ds.workspace is other and not workspace.artifacts.exists(ds.spec.path or "")
    datasets.add("moved", ds, workspace=workspace)
    assert workspace.artifacts.exists(ds.spec.path or "")
    loaded = datasets.get("moved", workspace=Workspace(workspace.path, db_url=workspace.db_url))
    assert loaded.fingerprint == ds.fingerprint and loaded.registered
    assert not datasets.load("moved", workspace=workspace, split={"seed": 1}).registered
