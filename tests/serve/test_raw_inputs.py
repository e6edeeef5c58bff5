"""Raw inputs without a server: text batches padded to their longest, buckets, BYTES tensors."""

from __future__ import annotations

import asyncio
import json
import struct

import numpy as np
import pytest

from aimass_lab import datasets
from aimass_lab.serve.server._batcher import Batcher
from aimass_lab.serve.server._predict import ModelCard
from aimass_lab.serve.server._protocol import HTTPError, TensorMeta, parse_infer_request


class _Record:
    """A thread-like executor that records each batch's array and echoes its widths."""

    slots = 1

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []
        self.gate = asyncio.Event()

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        await self.gate.wait()
        x = arrays["input"]
        self.batches.append(x)
        return [np.full((len(x), 1), x.shape[1], np.float32)]


def _ids(n: int, width: int) -> dict[str, np.ndarray]:
    return {"input": np.arange(1, n * width + 1, dtype=np.float32).reshape(n, width)}


def test_batcher_pads_a_text_batch_to_its_longest_request() -> None:
    async def main() -> None:
        ex = _Record()
        b = Batcher(ex, 32, 0.0, 64, pad_value=0.0)
        first = b.submit(_ids(1, 2), 1)  # runs alone (the gate holds it)
        await asyncio.sleep(0)
        futs = [b.submit(_ids(1, w), 1) for w in (3, 5, 4)]
        ex.gate.set()
        await first
        outs = await asyncio.gather(*futs)
        batch = ex.batches[1]
        assert batch.shape == (3, 5)  # the longest of the batch, not max_length
        assert batch[0].tolist() == [1, 2, 3, 0, 0] and batch[2, 4] == 0
        assert [float(o[0][0, 0]) for o in outs] == [5.0, 5.0, 5.0]
        await b.close()

    asyncio.run(main())


def test_bucket_by_length_keeps_far_lengths_apart_in_order() -> None:
    async def main() -> None:
        ex = _Record()
        b = Batcher(ex, 32, 0.0, 64, pad_value=0.0, bucket_by_length=True)
        first = b.submit(_ids(1, 2), 1)
        await asyncio.sleep(0)
        futs = [b.submit(_ids(1, w), 1) for w in (4, 60, 6, 50)]
        ex.gate.set()
        await first
        await asyncio.gather(*futs)
        assert [x.shape for x in ex.batches[1:]] == [(2, 6), (2, 60)]
        await b.close()

    asyncio.run(main())


@pytest.fixture(scope="module")
def card() -> ModelCard:
    ds = datasets.load(
        "reviews", options={"n_samples": 80}, tokenizer={"vocab_size": 90, "max_length": 12}
    )
    return ModelCard(
        {
            "task": "classification",
            "classes": ds.classes,
            "input_shape": [12],
            "input_kind": "text",
            "preprocess": ds.preprocessor.state_dict(),
        }
    )


def _parse(card: ModelCard, body: bytes, shape: tuple[int, ...], header: int | None = None):  # type: ignore[no-untyped-def]
    meta = [TensorMeta("input", "FP32", shape)]
    out = [TensorMeta("output", "FP32", (-1, 2))]
    return parse_infer_request(body, header, meta, out, 8, "the model", card.raw)


def test_bytes_tensor_of_texts_fixed_or_free_length(card: ModelCard) -> None:
    texts = ["great phone", "awful " * 40]
    body = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [2], "data": texts}]}
    free = _parse(card, json.dumps(body).encode(), (-1, -1))
    fixed = _parse(card, json.dumps(body).encode(), (-1, 12))  # an ONNX file's fixed length
    assert fixed.arrays["input"].shape == (2, 12) and free.arrays["input"].shape[1] <= 12
    assert free.parameters == {"truncated": True, "truncated_rows": "1"}
    blob = b"".join(struct.pack("<I", len(t)) + t for t in (b"ok", b"\xff\xfe"))
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "BYTES",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
    ).encode()
    with pytest.raises(HTTPError, match=r"\[1\] is not UTF-8 text .* UTF-8 bytes"):
        _parse(card, head + blob, (-1, -1), len(head))
    with pytest.raises(HTTPError, match=r"does not fit the 6 binary bytes"):
        _parse(card, head + blob[:6], (-1, -1), len(head))
    short = head.replace(f'"binary_data_size": {len(blob)}'.encode(), b'"binary_data_size": 6')
    with pytest.raises(HTTPError, match=r"ends before element 1"):
        _parse(card, short + blob[:6], (-1, -1), len(short))
    bad = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [1, 3], "data": ["a"]}]}
    with pytest.raises(HTTPError, match=r"shape \[N\] or \[N, 1\]"):
        _parse(card, json.dumps(bad).encode(), (-1, -1))
