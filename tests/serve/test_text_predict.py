"""The JSON predict route of a text model: raw strings in, token ids of max_length out."""

from __future__ import annotations

import numpy as np
import pytest

from aimass_lab import datasets
from aimass_lab.serve.server._predict import ModelCard, parse_predict
from aimass_lab.serve.server._protocol import HTTPError


def test_text_model_card_tokenizes_raw_strings() -> None:
    ds = datasets.load(
        "reviews", options={"n_samples": 80}, tokenizer={"vocab_size": 90, "max_length": 12}
    )
    config = {
        "task": "classification",
        "classes": ds.classes,
        "input_shape": [12],
        "input_kind": "text",
        "preprocess": ds.preprocessor.state_dict(),
    }
    card = ModelCard(config)
    arrays, n = parse_predict(
        {"inputs": ["the phone is great", "awful"]}, card, "input", (-1, 12), 64, "the model"
    )
    x = arrays["input"]
    assert n == 2 and x.shape == (2, 12) and x.dtype == np.float32
    expected = ds.preprocessor.transform(["the phone is great", "awful"], pad_to_max_length=True)
    assert np.array_equal(x.astype(np.int64), expected)
    with pytest.raises(HTTPError, match=r"inputs\[1\] must be a string"):
        parse_predict({"inputs": ["ok", 3]}, card, "input", (-1, 12), 64, "the model")
