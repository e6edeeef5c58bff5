"""A model trained with a feature selection serves raw rows: the server applies the state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from common_helpers import train_digits
from serve_helpers import running

from aimass_lab import data
from aimass_lab.workspace import Workspace


@pytest.mark.parametrize(
    ("name", "select", "width"),
    [
        ("digits", {"method": "kbest", "k": 20}, 20),
        ("iris", {"method": "pca", "n_components": 2}, 2),
    ],
)
def test_raw_rows_predict_as_the_selected_test_rows(
    tmp_path: Path, name: str, select: dict, width: int
) -> None:
    spec = {"name": name, "preprocess": {"select": select}}
    ws = Workspace(tmp_path / "ws")
    mv = train_digits(
        ws,
        tmp_path / "model",
        name="sel",
        model={"family": "mlp", "hparams": {"hidden": 16, "layers": 1}},
        epochs=1,
        data=spec,
    )
    assert mv.config["input_shape"][-1] == width
    assert mv.config["preprocess"]["select"]["method"] == select["method"]
    ws.store.close()
    ds = data.load(spec)
    part = ds.parts["test"]
    raw = part.raw.iloc[part.raw_index[:6]]  # type: ignore[attr-defined]
    ready = ds.X_test[:6]
    with running(tmp_path / "ws", tmp_path, "--models", "sel:1") as server, server.client() as http:
        a = http.post("/v1/models/sel/predict", json={"inputs": raw.to_numpy().tolist()})
        b = http.post("/v1/models/sel/predict", json={"records": raw.to_dict("records")})
        c = http.post(
            "/v1/models/sel/predict", json={"inputs": ready.tolist(), "preprocessed": True}
        )
        wrong = http.post("/v1/models/sel/predict", json={"inputs": [[0.0] * (width + 100)]})
    assert a.status_code == b.status_code == c.status_code == 200, (a.text, b.text, c.text)
    assert a.json()["predictions"] == b.json()["predictions"] == c.json()["predictions"]
    np.testing.assert_allclose(
        a.json()["probabilities"], c.json()["probabilities"], rtol=1e-4, atol=1e-5
    )
    assert wrong.status_code == 400 and "raw values" in wrong.text
