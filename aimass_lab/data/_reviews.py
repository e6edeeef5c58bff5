"""The built-in ``reviews`` text dataset: short product reviews with a sentiment, generated.

Made by a seeded generator from small word lists (nothing is downloaded): each review names
a product and one or two aspects with positive or negative words, plus neutral filler, so
that a tiny text model learns the sentiment within an epoch or two. ``noise`` flips that
share of labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aimass_lab.data._base import RawData
from aimass_lab.errors import SpecError, accepted

__all__ = ["REVIEW_DEFAULTS", "make_reviews"]

REVIEW_DEFAULTS: dict[str, Any] = {"n_samples": 1000, "noise": 0.05, "random_state": 0}
CLASSES = ["negative", "positive"]

_PRODUCTS = [
    "phone",
    "laptop",
    "camera",
    "blender",
    "kettle",
    "headset",
    "keyboard",
    "monitor",
    "chair",
    "lamp",
    "backpack",
    "speaker",
    "watch",
    "tablet",
    "router",
    "printer",
    "vacuum",
    "mixer",
    "jacket",
    "tent",
]
_ASPECTS = [
    "battery",
    "screen",
    "sound",
    "price",
    "design",
    "delivery",
    "quality",
    "size",
    "weight",
    "handle",
    "cable",
    "strap",
    "manual",
    "support",
    "finish",
    "motor",
    "button",
    "charger",
    "case",
    "fabric",
]
_GOOD = [
    "great",
    "excellent",
    "superb",
    "lovely",
    "solid",
    "reliable",
    "perfect",
    "brilliant",
    "sturdy",
    "fantastic",
    "impressive",
    "pleasant",
    "smooth",
    "wonderful",
]
_BAD = [
    "terrible",
    "awful",
    "poor",
    "flimsy",
    "broken",
    "disappointing",
    "useless",
    "cheap",
    "noisy",
    "horrible",
    "faulty",
    "weak",
    "annoying",
    "defective",
]
_FILLER = (
    "i bought this last month",
    "arrived on tuesday",
    "my second order from this shop",
    "using it every day",
    "got it as a gift",
    "",
)
_ENDINGS = {
    1: ("would buy again", "highly recommended", "five stars", "very happy with it"),
    0: ("returning it", "not recommended", "one star", "what a waste of money"),
}


def make_reviews(options: dict[str, Any]) -> RawData:
    """Generate the reviews: a ``text`` column and a ``label`` (negative/positive).

    Parameters
    ----------
    options
        ``n_samples`` (default 1000), ``noise`` (share of flipped labels, default 0.05),
        ``random_state`` (default 0).

    Raises
    ------
    SpecError
        For an unknown option or a value out of range.
    """
    unknown = sorted(set(options) - set(REVIEW_DEFAULTS))
    opts = {**REVIEW_DEFAULTS, **options}
    problem = None
    if unknown:
        problem = f"unknown option(s) {accepted(unknown)}; accepted: {accepted(REVIEW_DEFAULTS)}"
    elif not isinstance(opts["n_samples"], int) or not 4 <= opts["n_samples"] <= 10_000_000:
        problem = "n_samples must be an integer from 4 to 10,000,000"
    elif not 0.0 <= float(opts["noise"]) <= 0.5:
        problem = "noise must be between 0 and 0.5"
    if problem:
        raise SpecError(
            "DataSpec",
            [{"field": "options", "value": options, "message": f"reviews: {problem}"}],
        )
    rng = np.random.default_rng(int(opts["random_state"]))
    n = int(opts["n_samples"])
    sentiment = rng.integers(0, 2, size=n)
    texts = []
    for s in sentiment:
        words = _GOOD if s else _BAD
        parts = [f"the {rng.choice(_PRODUCTS)}", str(rng.choice(_FILLER))]
        for _ in range(int(rng.integers(1, 3))):
            parts.append(f"the {rng.choice(_ASPECTS)} is {rng.choice(words)}")
        if rng.random() < 0.5:
            parts.append(str(rng.choice(_ENDINGS[int(s)])))
        texts.append(", ".join(p for p in parts if p) + ".")
    flip = rng.random(n) < float(opts["noise"])
    labels = np.where(flip, 1 - sentiment, sentiment)
    frame = pd.DataFrame({"text": texts})
    y = np.asarray(CLASSES, dtype=object)[labels]
    return RawData(frame, y, classes=CLASSES, task="classification", target_name="label")
