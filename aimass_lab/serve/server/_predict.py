"""The JSON route's translation: records or arrays in, predictions and probabilities out.

Both body forms hold raw features, as the training data had them: ``{"inputs": [[...], ...]}``
rows of raw values in column order (images: raw ``(C, H, W)`` arrays), ``{"records":
[{column: value}, ...]}`` raw values by column name. The preprocessing fitted on the training
part (the ``preprocess`` state in ``model.json``: imputation, one-hot, standardisation) is
applied by the server. ``{"inputs": ..., "preprocessed": true}`` sends model-ready rows (what
``Dataset.X_test`` holds, and what OIP ``infer`` takes) that are used as they are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aimass_lab.serve.server._protocol import HTTPError, non_finite
from aimass_lab.serve.server._raw import RawInputs

__all__ = ["ModelCard", "format_predictions", "parse_predict"]

_NUMBER_TYPES = frozenset((int, float, bool))


class ModelCard:
    """What the JSON route needs from ``model.json``: task, classes, preprocessing."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.task = str(config.get("task") or "classification")
        classes = config.get("classes")
        self.classes: list[Any] | None = list(classes) if isinstance(classes, list) else None
        stats = config.get("target_stats") or {}
        self.y_mean = float(stats.get("mean", 0.0) or 0.0)
        self.y_std = float(stats.get("std", 1.0) or 1.0)
        self.input_shape = tuple(int(d) for d in config.get("input_shape") or ())
        self.preprocess: dict[str, Any] | None = config.get("preprocess") or None
        self.feature_names = config.get("feature_names")
        self._pre: Any = None
        pre = self.preprocess or {}
        self.kind = str(pre.get("kind", config.get("input_kind") or "tabular"))
        self.columns: list[str] = [str(c) for c in pre.get("columns") or []]
        self._simple = bool(
            self.preprocess
            and self.kind == "tabular"
            and not pre.get("categories")
            and not pre.get("select")  # selection/PCA: the Preprocessor applies it
            and self.columns
        )
        if self._simple:
            self._fill = np.array([float(pre["fill"][c]) for c in self.columns], np.float64)
            self._mean = np.array([float(pre["mean"][c]) for c in self.columns], np.float64)
            self._std = np.array([float(pre["std"][c]) or 1.0 for c in self.columns], np.float64)
            self._impute = str(pre.get("impute", "mean"))
        #: Text models: the pad id the batcher pads requests' token ids with.
        self.pad_value: float | None = (
            float(pre["pad_id"]) if self.kind == "text" and "pad_id" in pre else None
        )
        self.raw: RawInputs | None = None
        if self.preprocess and self.kind in ("text", "image"):
            self.raw = RawInputs(self.kind, self._preprocessor, self.input_shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "classes": self.classes,
            "input_kind": self.kind,
            "columns": self.columns or None,
        }

    # -- raw features --------------------------------------------------------------------------
    def _preprocessor(self) -> Any:
        if self._pre is None:
            from aimass_lab.data import Preprocessor

            self._pre = Preprocessor.from_state(self.preprocess or {})
        return self._pre

    def transform_records(self, records: list[Any]) -> np.ndarray:
        if not self.preprocess or self.kind != "tabular":
            raise HTTPError(
                400,
                "'records' need a tabular model with named columns; this model takes "
                f'{self.kind} inputs: send {{"inputs": [...]}}',
            )
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise HTTPError(400, f"records[{i}] must be an object {{column: value}}")
            missing = [c for c in self.columns if c not in rec]
            if missing:
                raise HTTPError(
                    400,
                    f"records[{i}] lacks column {missing[0]!r}; the model's columns: "
                    + ", ".join(map(repr, self.columns)),
                )
        if self._simple:
            rows = [[rec[c] for c in self.columns] for rec in records]
            return self._transform_simple(rows, "records")
        return self._slow(records)

    def transform_raw_rows(
        self, rows: list[Any], length: int | None = None, notes: dict[str, Any] | None = None
    ) -> np.ndarray:
        """Model-ready rows of raw ``inputs``: texts padded to the longest (or ``length``),
        image file bytes (base64) decoded, or raw arrays; ``notes`` gets ``truncated``."""
        if self.raw is not None and (
            self.kind == "text" or isinstance(rows[0], (str, dict, bytes))
        ):
            x, extra = self.raw.rows(rows, "inputs", length)
            if notes is not None:
                notes.update(extra)
            return x
        if self.kind == "image":
            try:
                arr = np.asarray(rows, dtype=np.float32)
            except (ValueError, TypeError, OverflowError):
                raise HTTPError(400, "'inputs' is not a regular array of numbers") from None
            return self._slow(arr)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(self.columns):
                raise HTTPError(
                    400,
                    f"inputs[{i}] must be a list of {len(self.columns)} raw values in the order "
                    + ", ".join(map(repr, self.columns)),
                )
        if self._simple:
            return self._transform_simple(rows, "inputs")
        return self._slow(rows)

    def _transform_simple(self, rows: list[list[Any]], what: str) -> np.ndarray:
        # Rows of plain numbers (the usual case) go to numpy in one call; anything else
        # (None, strings, nested lists, ...) takes the loop below, which names the bad value.
        types = {type(v) for row in rows for v in row}
        if types <= _NUMBER_TYPES:
            try:
                out = np.array(rows, dtype=np.float64)
            except (ValueError, TypeError, OverflowError):
                pass
            else:
                if out.shape == (len(rows), len(self.columns)):
                    missing = np.isnan(out)
                    if missing.any():
                        if self._impute == "none":
                            i, j = (int(x) for x in np.argwhere(missing)[0])
                            raise HTTPError(
                                400,
                                f"{what}[{i}] has no value for column {self.columns[j]!r} and "
                                "the model was trained with impute 'none'",
                            )
                        out = np.where(missing, self._fill, out)
                    return self._standardise(out, what)
        n, k = len(rows), len(self.columns)
        out = np.empty((n, k), np.float64)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    if self._impute == "none":
                        raise HTTPError(
                            400,
                            f"{what}[{i}] has no value for column {self.columns[j]!r} and the "
                            "model was trained with impute 'none'",
                        )
                    out[i, j] = self._fill[j]
                elif isinstance(v, (int, float)):  # bool is an int: True -> 1
                    try:
                        out[i, j] = float(v)
                    except OverflowError:  # an integer beyond a float
                        out[i, j] = math.inf if v > 0 else -math.inf
                else:
                    raise HTTPError(
                        400,
                        f"{what}[{i}] column {self.columns[j]!r} must be a number, got {v!r}",
                    )
        return self._standardise(out, what)

    def _standardise(self, raw: np.ndarray, what: str) -> np.ndarray:
        """Standardised float32 rows of imputed raw values; a 400 names a value that is
        infinite as sent, or that the standardisation takes beyond FP32."""
        self._finite(raw, what, "is Infinity or a number beyond +-1.797e+308")
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            out = ((raw - self._mean) / self._std).astype(np.float32)
        self._finite(
            out,
            what,
            "becomes Infinity after the model's preprocessing (standardisation with the "
            "training data's mean and std; beyond the range of FP32, +-3.403e+38)",
        )
        return out

    def _finite(self, arr: np.ndarray, what: str, why: str) -> None:
        bad = ~np.isfinite(arr)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise HTTPError(
                400,
                f"{what}[{i}] column {self.columns[j]!r} {why}; accepted: finite numbers "
                "(null for a missing value"
                + (", which this model refuses: impute 'none')" if self._impute == "none" else ")"),
            )

    def _slow(self, data: Any) -> np.ndarray:
        from aimass_lab.errors import DataError

        try:
            with np.errstate(over="ignore", invalid="ignore"):  # parse_predict checks
                return np.asarray(self._preprocessor().transform(data), dtype=np.float32)
        except DataError as exc:
            raise HTTPError(400, f"cannot preprocess the input: {exc}") from None
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise HTTPError(
                400, f"cannot preprocess the input: {type(exc).__name__}: {exc}"
            ) from None

    # -- outputs -------------------------------------------------------------------------------
    def format(self, out: np.ndarray, what: str = "the model") -> dict[str, Any]:
        """Predictions of the model's outputs; a 422 when they are not finite."""
        out = np.asarray(out).reshape(len(out), -1)
        if not np.isfinite(out).all():
            rows = sorted({int(i) for i in np.argwhere(~np.isfinite(out))[:, 0]})
            shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            raise HTTPError(
                422,
                f"the output of {what} is not finite (NaN or Infinity) for row(s) {shown}: the "
                "inputs are outside the range the model computes in; accepted: inputs in the "
                "range of the training data",
            )
        if self.task == "regression":
            values = out.astype(np.float64) * self.y_std + self.y_mean
            preds = values[:, 0].tolist() if values.shape[1] == 1 else values.tolist()
            return {"predictions": preds}
        logits = out.astype(np.float64)
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        idx = probs.argmax(axis=1)
        if self.classes is not None and len(self.classes) == probs.shape[1]:
            labels = [self.classes[i] for i in idx.tolist()]
        else:
            labels = idx.tolist()
        return {
            "predictions": labels,
            "probabilities": probs.tolist(),
            "confidence": probs.max(axis=1).tolist(),
        }


def parse_predict(
    doc: Any,
    card: ModelCard,
    input_name: str,
    input_shape: tuple[int, ...],
    max_batch_size: int,
    what: str,
    notes: dict[str, Any] | None = None,
) -> tuple[dict[str, np.ndarray], int]:
    """Validate a JSON predict body; return the model-ready arrays and the row count.

    ``notes`` (when given) gets what the answer should say about raw inputs: ``truncated``
    (one flag per text) for a text model."""
    if not isinstance(doc, dict):
        raise HTTPError(
            400, 'the body must be a JSON object: {"inputs": [[...], ...]} or {"records": [{...}]}'
        )
    has_inputs, has_records = "inputs" in doc, "records" in doc
    if has_inputs == has_records:
        raise HTTPError(
            400,
            "the body needs exactly one of 'inputs' (a list of rows) or 'records' (a list of "
            "{column: value} objects)",
        )
    ready = doc.get("preprocessed", False)
    if not isinstance(ready, bool):
        raise HTTPError(400, "'preprocessed' must be true or false")
    unknown = set(doc) - {"inputs", "records", "preprocessed", "id"}
    if unknown:
        raise HTTPError(
            400,
            f"unknown field(s) {', '.join(sorted(map(repr, unknown)))}; accepted: 'inputs' or "
            "'records', 'preprocessed'",
        )
    key = "inputs" if has_inputs else "records"
    data = doc[key]
    if isinstance(data, dict) and has_records:
        data = [data]
    if not isinstance(data, list) or not data:
        raise HTTPError(400, f"'{key}' must be a non-empty list")
    feature_shape = tuple(input_shape[1:])
    raw_table = has_inputs and card.preprocess and not ready and card.kind == "tabular"
    if raw_table and not isinstance(data[0], (list, dict)):
        data = [data]  # one row without the batch axis
    if len(data) > max_batch_size and (has_records or raw_table):
        raise HTTPError(
            400,
            f"'{key}' has {len(data)} rows, above the maximum {max_batch_size} of {what}; "
            "split the request",
        )
    if has_records:
        x = card.transform_records(data)
    elif card.preprocess and not ready:
        fixed = feature_shape[0] if card.kind == "text" and feature_shape else -1
        x = card.transform_raw_rows(data, fixed if fixed > 0 else None, notes)
    else:
        try:
            x = np.asarray(data, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            raise HTTPError(
                400, "'inputs' is not a regular array of numbers (rows of equal length)"
            ) from None
        if x.ndim == len(feature_shape) and _fits(x.shape, feature_shape):
            x = x[None]  # one row without the batch axis
    if x.ndim != len(feature_shape) + 1 or not _fits(x.shape[1:], feature_shape):
        shape_txt = ", ".join("?" if d < 0 else str(d) for d in feature_shape)
        raise HTTPError(
            400,
            f"'{key}' gives rows of shape {list(x.shape[1:])}; {what} takes rows of shape "
            f"[{shape_txt}] (input {input_name!r})",
        )
    if len(x) > max_batch_size:
        raise HTTPError(
            400,
            f"'{key}' has {len(x)} rows, above the maximum {max_batch_size} of {what}; "
            "split the request",
        )
    # as sent (model-ready rows) or after the preprocessing (raw rows, records)
    after = "" if ready or not card.preprocess else " after preprocessing"
    names = (card.preprocess or {}).get("feature_names") if card.kind == "tabular" else None
    non_finite(x, f"'{key}'", after, names if isinstance(names, list) else None)
    return {input_name: x}, len(x)


def _fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(shape) == len(expected) and all(
        e < 0 or s == e for s, e in zip(shape, expected, strict=True)
    )


def format_predictions(
    card: ModelCard,
    model: str,
    version: str,
    outputs: list[np.ndarray],
    notes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON answer: model, version, predictions (+ probabilities, confidence; for raw
    texts ``truncated``: one flag per text, true when it was cut to ``max_length``)."""
    what = f"model {model!r} version {version}"
    return {"model": model, "version": version, **card.format(outputs[0], what), **(notes or {})}
