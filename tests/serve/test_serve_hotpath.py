"""The inference hot path's short cuts behave like the long way: the batcher's inline flush,
the orjson codec with its stdlib fallbacks, the vectorised raw-row preprocessing."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import numpy as np
import pytest

from aimass_lab.serve.server._batcher import Batcher
from aimass_lab.serve.server._predict import ModelCard, parse_predict
from aimass_lab.serve.server._protocol import HTTPError, json_bytes, json_bytes_finite, parse_json
from aimass_lab.serve.server._worker import EngineFailed


class _Quick:
    """An in-process executor whose batches are quick (runs inline), recording batch sizes."""

    slots = 1
    inline = True

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run_inline(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = arrays["x"]
        self.batches.append(len(x))
        if (x < 0).any():
            raise EngineFailed("negative input")
        return [x * 2]

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.run_inline(arrays)


def _rows(*values: float) -> dict[str, np.ndarray]:
    return {"x": np.array([[v] for v in values], np.float32)}


def test_inline_flush_answers_a_lone_request_and_batches_a_loop_turn() -> None:
    async def main() -> None:
        ex = _Quick()
        seen: list[int] = []
        b = Batcher(ex, 4, 2.0, 16, on_batch=lambda rows, s: seen.append(rows))
        out = await b.submit(_rows(1.0), 1)
        assert out[0].tolist() == [[2.0]] and ex.batches == [1]
        # requests queued in the same loop turn go out as one batch, in order, max 4 rows
        futs = [b.submit(_rows(float(i)), 1) for i in range(6)]
        outs = await asyncio.gather(*futs)
        assert [o[0].tolist() for o in outs] == [[[2.0 * i]] for i in range(6)]
        assert ex.batches[1] == 4 and sum(ex.batches[1:]) == 6
        assert seen[0] == 1 and sum(seen) == 7
        await b.drain()
        assert b.depth == 0
        await b.close()

    asyncio.run(main())


def test_inline_batch_failure_fails_only_the_bad_request() -> None:
    async def main() -> None:
        ex = _Quick()
        b = Batcher(ex, 8, 0.0, 16)
        good, bad = b.submit(_rows(1.0), 1), b.submit(_rows(-1.0), 1)
        assert (await good)[0].tolist() == [[2.0]]
        with pytest.raises(EngineFailed, match="negative"):
            await bad
        await b.close()

    asyncio.run(main())


def test_orjson_path_matches_the_stdlib() -> None:
    doc = {"a": [1, 2.5, -0.0, 1e-05, 3.4028234663852886e38], "b": "é", "c": None, "d": True}
    assert json.loads(json_bytes_finite(doc)) == json.loads(json_bytes(doc))
    assert parse_json(json_bytes(doc)) == doc
    # NaN and Infinity are not JSON; a number beyond a float becomes an infinity the routes
    # refuse naming the input (integers over 64 bits within a float are floats)
    with pytest.raises(HTTPError, match="NaN and Infinity are not JSON"):
        parse_json(b'{"x": [1, NaN]}')
    with pytest.raises(HTTPError, match="NaN and Infinity are not JSON"):
        parse_json(b'{"x": [-Infinity]}')
    parsed = parse_json(b'{"x": [1e400, -' + b"9" * 400 + b", 123456789012345678901234567890]}")
    assert parsed["x"][:2] == [math.inf, -math.inf]
    assert parsed["x"][2] == pytest.approx(1.2345678901234568e29)
    with pytest.raises(ValueError):
        json_bytes({"x": math.nan})  # an answer never holds NaN
    assert json_bytes_finite({"n": 2**70}) == b'{"n":1180591620717411303424}'
    with pytest.raises(HTTPError, match="malformed JSON"):
        parse_json(b'{"x": ')
    with pytest.raises(HTTPError, match="not UTF-8"):
        parse_json(b'{"x": "\xff"}')


def _card(impute: str = "mean") -> ModelCard:
    cols = ["a", "b", "c"]
    return ModelCard(
        {
            "task": "classification",
            "input_shape": [3],
            "preprocess": {
                "kind": "tabular",
                "columns": cols,
                "fill": {"a": 1.0, "b": 2.0, "c": 3.0},
                "mean": {"a": 0.5, "b": -1.0, "c": 0.0},
                "std": {"a": 2.0, "b": 0.0, "c": 4.0},
                "impute": impute,
            },
        }
    )


def _loop_transform(card: ModelCard, rows: list[list[Any]]) -> np.ndarray:
    out = np.empty((len(rows), 3), np.float64)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            out[i, j] = card._fill[j] if missing else float(v)
    return ((out - card._mean) / card._std).astype(np.float32)


@pytest.mark.parametrize(
    "rows",
    [
        [[1, 2.5, True]],
        [[0.0, -3, 7], [float("nan"), 1, None]],
        [[1e30, -1e30, 2**70]],
    ],
)
def test_vectorised_preprocessing_matches_the_loop(rows: list[list[Any]]) -> None:
    card = _card()
    got = card.transform_raw_rows([list(r) for r in rows])
    np.testing.assert_array_equal(got, _loop_transform(card, rows))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1, float("inf"), 2]], r"inputs\[0\] column 'b' is Infinity"),
        ([[1, 2, 3], [1, 2, 10**400]], r"inputs\[1\] column 'c' is Infinity"),
        ([[1, 2, None], [-(10**400), 2, "x"]], r"inputs\[1\] column 'c' must be a number"),
        ([[1e39, 2, 3]], r"inputs\[0\] column 'a' becomes Infinity after the model's prepro"),
    ],
)
def test_non_finite_raw_values_are_400_naming_row_and_column(
    rows: list[list[Any]], message: str
) -> None:
    with pytest.raises(HTTPError, match=message):
        _card().transform_raw_rows(rows)


def test_non_finite_after_one_hot_preprocessing_is_400_naming_the_column() -> None:
    card = ModelCard(
        {
            "task": "classification",
            "input_shape": [3],
            "preprocess": {
                "version": 1, "kind": "tabular", "impute": "mean", "one_hot": "auto",
                "standardize": True, "feature_names": ["a", "c=x", "c=y"],
                "columns": ["a", "c"], "categories": {"c": ["x", "y"]},
                "fill": {"a": 2.5, "c": "x"}, "mean": {"a": 2.5}, "std": {"a": 1.12},
            },
        }
    )  # fmt: skip
    x, _ = parse_predict(
        {"records": [{"a": None, "c": "y"}, {"a": 1.0, "c": None}]}, card, "input", (-1, 3), 8, "m"
    )
    assert x["input"].tolist() == [[0.0, 0.0, 1.0], pytest.approx([-1.3392857, 1.0, 0.0])]
    with pytest.raises(HTTPError, match=r"'records' row 1 column 'a' is Infinity .* after prepro"):
        parse_predict(
            {"records": [{"a": 1, "c": "x"}, {"a": 1e300, "c": "x"}]},
            card,
            "input",
            (-1, 3),
            8,
            "m",
        )


def test_vectorised_preprocessing_keeps_the_messages() -> None:
    with pytest.raises(HTTPError, match=r"inputs\[1\] has no value for column 'b'"):
        _card("none").transform_raw_rows([[1, 2, 3], [1, float("nan"), 3]])
    with pytest.raises(HTTPError, match=r"inputs\[0\] column 'c' must be a number, got 'x'"):
        _card().transform_raw_rows([[1, 2, "x"]])
