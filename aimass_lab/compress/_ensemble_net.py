"""The torch form of an ensemble: one ``nn.Module`` holding the member networks.

An ensemble version records ``model_spec = {"family": "custom", "target":
"aimass_lab.compress._ensemble_net:EnsembleNetwork", "hparams": {...}}`` and its
``weights.safetensors`` holds every member's weights under ``members.<i>.``, so that
:func:`aimass_lab.models.load_network` (and the server's torch engine) rebuild it like any
other version. The ONNX form (``model.onnx``) combines the members' own ONNX graphs and
computes the same.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aimass_lab.compress._ensemble_onnx import EPS

__all__ = ["EPS", "TARGET", "EnsembleNetwork", "member_network_record"]

TARGET = "aimass_lab.compress._ensemble_net:EnsembleNetwork"


def member_network_record(config: dict[str, Any]) -> dict[str, Any]:
    """What rebuilds a member network: its model spec, shapes and network options."""
    from aimass_lab.models import network_options

    return {
        "model_spec": dict(config["model_spec"]),
        "input_shape": [int(d) for d in config["input_shape"]],
        "output_dim": int(config["output_dim"]),
        "options": network_options(config),
    }


class EnsembleNetwork(nn.Module):
    """Member networks combined: mean, weighted mean or vote of probabilities, or stacking.

    Parameters
    ----------
    members
        One :func:`member_network_record` per member.
    method
        ``mean``, ``weighted``, ``vote`` or ``stack``.
    weights
        One weight per member, summing to 1.
    task
        ``classification`` (outputs log-probabilities, or the meta-model's logits for
        ``stack``) or ``regression`` (the weighted mean of the outputs).
    meta
        ``stack``: ``{"coef": [[...]] (members*classes x classes), "intercept": [...]}``.
    """

    coef: torch.Tensor
    bias: torch.Tensor

    def __init__(
        self,
        members: list[dict[str, Any]],
        method: str,
        weights: list[float],
        task: str = "classification",
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from aimass_lab.models import build_network
        from aimass_lab.specs import ModelSpec

        self.members = nn.ModuleList(
            build_network(
                ModelSpec.from_dict(m["model_spec"]),
                tuple(m["input_shape"]),
                int(m["output_dim"]),
                **(m.get("options") or {}),
            )
            for m in members
        )
        self.method, self.task = method, task
        self.weights = [float(w) for w in weights]
        coef = (meta or {}).get("coef") or [[0.0]]
        bias = (meta or {}).get("intercept") or [0.0]
        self.register_buffer("coef", torch.tensor(coef, dtype=torch.float32), persistent=False)
        self.register_buffer("bias", torch.tensor(bias, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [m(x) for m in self.members]
        if self.task == "regression":
            return sum(w * o for w, o in zip(self.weights, outs, strict=True))  # type: ignore[return-value]
        probs = [torch.softmax(o, dim=-1) for o in outs]
        if self.method == "stack":
            return torch.cat(probs, dim=-1) @ self.coef + self.bias
        if self.method == "vote":
            n = probs[0].shape[-1]
            probs = [nn.functional.one_hot(p.argmax(-1), n).to(p.dtype) for p in probs]
        mixed = sum(w * p for w, p in zip(self.weights, probs, strict=True))
        return torch.log(mixed + EPS)  # type: ignore[arg-type]
