"""The zoo's text model: a Transformer encoder over token ids (imports torch)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["TextTransformer", "network_options"]


def network_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`build_network` needs beyond shapes, from a ``model.json``: ``input_kind``,
    ``vocab_size`` and ``pad_id`` of text (its own keys, else its ``preprocess`` state), and
    the ``pretrained`` entry of a pretrained model; empty for other inputs."""
    pre = config.get("preprocess") or {}
    kind = config.get("input_kind") or pre.get("kind")
    extra: dict[str, Any] = {}
    if isinstance(config.get("pretrained"), Mapping):
        extra = {"pretrained": dict(config["pretrained"]), "input_kind": kind}
    if kind != "text":
        return extra
    vocab = config.get("vocab_size", pre.get("vocab_size"))
    pad = config.get("pad_id", pre.get("pad_id"))
    return {
        **extra,
        "input_kind": "text",
        "vocab_size": None if vocab is None else int(vocab),
        "pad_id": None if pad is None else int(pad),
    }


class TextTransformer(nn.Module):
    """Token embedding (``padding_idx``), learned positions, Transformer encoder, masked mean.

    Takes ``(B, L)`` token ids (``L`` up to ``max_length``; float ids, as a float-only
    serving path sends them, are rounded to ``int64``); pad tokens are masked out of the
    attention and of the mean.
    """

    def __init__(
        self,
        vocab_size: int,
        pad_id: int,
        max_length: int,
        out_features: int,
        d_model: int,
        heads: int,
        layers: int,
        ff: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.pad_id = int(pad_id)
        self.max_length = int(max_length)
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=self.pad_id)
        self.pos = nn.Parameter(torch.zeros(1, self.max_length, d_model))
        nn.init.normal_(self.pos, std=1.0 / math.sqrt(d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_features)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.is_floating_point():
            ids = ids.round().long()
        ids = ids[:, : self.max_length]
        pad = ids == self.pad_id
        pad[:, 0] = False  # a text of padding only still attends to one position
        x = self.embed(ids) + self.pos[:, : ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.head(self.norm(pooled))
