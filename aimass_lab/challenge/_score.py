"""Scoring a model version on a challenge's hidden rows, in the workspace's own code.

The model's ``model.json`` says which dataset it was trained on and holds the preprocessing
fitted on its training part; the hidden rows are preprocessed with that state, run through
the verified network and compared with their targets.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aimass_lab.challenge._challenge import Challenge
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["check_model", "hidden_rows", "metric_value", "score"]


def hidden_rows(ws: Workspace, challenge: str, hidden: dict[str, Any]) -> pd.DataFrame:
    """The hidden rows (features and target), checked against their sha256."""
    import pandas as pd

    path = ws.artifacts.verify(
        str(hidden["digest"]), label=f"the hidden rows of challenge {challenge!r}"
    )
    return pd.read_parquet(io.BytesIO(path.read_bytes()))


def check_model(challenge: Challenge, mv: ModelVersion, config: dict[str, Any]) -> None:
    """Refuse a model that was not trained on the challenge's public dataset and columns."""
    where = f"model {mv.ref} cannot be scored on challenge {challenge.name!r}"
    data_spec = config.get("data_spec") or {}
    trained_on = data_spec.get("name") or mv.lineage.get("dataset") or data_spec.get("source")
    if trained_on != challenge.public:
        raise DataError(
            f"{where}: it was trained on dataset {trained_on!r}; this challenge scores models "
            f"trained on {challenge.public!r} (datasets.load({challenge.public!r}))"
        )
    task = str(config.get("task") or "classification")
    if task != challenge.spec.task:
        raise DataError(
            f"{where}: it is a {task} model; metric {challenge.spec.metric!r} scores "
            f"{challenge.spec.task} models"
        )
    pre = config.get("preprocess") or {}
    columns = [str(c) for c in pre.get("columns") or []]
    missing = [c for c in columns if c not in challenge.features]
    if pre.get("kind", "tabular") != "tabular" or not columns or missing:
        raise DataError(
            f"{where}: it takes the columns {columns or pre.get('kind')}; the challenge's "
            f"features are {challenge.features}"
        )


def metric_value(metric: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    """``metric`` of ``predicted`` against ``truth`` (labels as strings, or numbers)."""
    import numpy as np

    if metric == "accuracy":
        return float(np.mean(truth == predicted))
    if metric == "f1_macro":
        from sklearn.metrics import f1_score

        return float(f1_score(truth, predicted, average="macro", zero_division=0))
    diff = predicted.astype(np.float64) - truth.astype(np.float64)
    if metric == "rmse":
        return float(math.sqrt(float(np.mean(diff**2))))
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return float(1.0 - float(np.sum(diff**2)) / spread) if spread > 0 else 0.0  # r2


def _predict(mv: ModelVersion, config: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    import numpy as np
    import torch

    from aimass_lab.data import Preprocessor

    X = Preprocessor.from_state(config["preprocess"]).transform(frame)
    network = mv.load_network("cpu")
    with torch.inference_mode():
        out = network(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))).numpy()
    if str(config.get("task")) == "regression":
        stats = config.get("target_stats") or {}
        values = out.reshape(len(frame), -1)[:, 0].astype(np.float64)
        return values * float(stats.get("std", 1.0) or 1.0) + float(stats.get("mean", 0.0) or 0.0)
    classes = [str(c) for c in config.get("classes") or range(out.shape[-1])]
    return np.asarray(classes, dtype=object)[out.argmax(axis=-1)]


def score(ws: Workspace, challenge: Challenge, hidden: dict[str, Any], mv: ModelVersion) -> float:
    """``mv``'s score on the challenge's hidden rows (after :func:`check_model`)."""
    import numpy as np

    config = mv.config
    check_model(challenge, mv, config)
    frame = hidden_rows(ws, challenge.name, hidden)
    target = str(hidden["target"])
    predicted = _predict(mv, config, frame.drop(columns=[target]))
    truth = frame[target].to_numpy()
    if challenge.spec.task == "classification":
        truth = np.asarray([str(v) for v in truth], dtype=object)
    value = metric_value(challenge.spec.metric, truth, predicted)
    if not math.isfinite(value):
        raise DataError(
            f"model {mv.ref} scored {value} ({challenge.spec.metric}) on challenge "
            f"{challenge.name!r}: its predictions are not finite numbers"
        )
    return value
