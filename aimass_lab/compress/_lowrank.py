"""Low-rank factorisation of Linear layers by truncated SVD."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._fit import count_params, fit
from aimass_lab.compress._prune import prunable_layers
from aimass_lab.errors import AimassError
from aimass_lab.models import build_network, network_options
from aimass_lab.specs import LowRankSpec, ModelSpec

__all__ = ["LowRank", "LowRankLinear", "LowRankNetwork"]

TARGET = "aimass_lab.compress._lowrank:LowRankNetwork"


class LowRankLinear(nn.Module):
    """``Linear(in, out)`` as ``Linear(in, rank, bias=False)`` then ``Linear(rank, out)``."""

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__()
        self.first = nn.Linear(in_features, rank, bias=False)
        self.second = nn.Linear(rank, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


def _set_module(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, module)


class LowRankNetwork(nn.Module):
    """A zoo (or custom) network whose listed Linear layers are factorised.

    Registered as ``family="custom"`` with this class as target, so that
    :meth:`~aimass_lab.registry.ModelVersion.load_network` rebuilds it.

    Parameters
    ----------
    base
        The :class:`~aimass_lab.specs.ModelSpec` dict of the original network.
    ranks
        ``{layer path: rank}`` of the factorised layers.
    input_shape, output_dim, vocab_size, pad_id
        As for :func:`~aimass_lab.models.build_network` (the last two: text models only).
    """

    def __init__(
        self,
        base: dict[str, Any],
        ranks: dict[str, int],
        input_shape: tuple[int, ...],
        output_dim: int,
        vocab_size: int | None = None,
        pad_id: int | None = None,
    ) -> None:
        super().__init__()
        text: dict[str, Any] = (
            {"input_kind": "text", "vocab_size": vocab_size, "pad_id": pad_id}
            if vocab_size is not None
            else {}
        )
        self.body = build_network(
            ModelSpec.from_dict(base), tuple(input_shape), int(output_dim), **text
        )
        for path, rank in ranks.items():
            layer = self.body.get_submodule(path)
            if not isinstance(layer, nn.Linear):
                raise AimassError(f"low-rank layer {path!r} is {type(layer).__name__}, not Linear")
            _set_module(
                self.body,
                path,
                LowRankLinear(
                    layer.in_features, layer.out_features, int(rank), layer.bias is not None
                ),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _rank_for(s: torch.Tensor, spec: LowRankSpec) -> int:
    if spec.rank is not None:
        return min(spec.rank, len(s))
    energy = torch.cumsum(s.pow(2), 0) / s.pow(2).sum().clamp_min(1e-12)
    return int(torch.searchsorted(energy, torch.tensor(float(spec.energy or 1.0)) - 1e-7)) + 1


class LowRank(CompressionMethod):
    """SVD factorisation then fine-tuning (see :class:`~aimass_lab.specs.LowRankSpec`)."""

    name = "low-rank"
    spec: LowRankSpec

    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        config = candidate.config
        source = copy.deepcopy(candidate.network).cpu().eval()
        ranks: dict[str, int] = {}
        factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for path, layer in prunable_layers(source):
            if not isinstance(layer, nn.Linear):
                continue
            w = layer.weight.detach()
            u, s, vh = torch.linalg.svd(w, full_matrices=False)
            rank = max(1, _rank_for(s, spec))
            if (
                rank * (layer.in_features + layer.out_features)
                >= layer.in_features * layer.out_features
            ):
                continue  # factorising would not make this layer smaller
            root = s[:rank].sqrt()
            factors[path] = (root[:, None] * vh[:rank], u[:, :rank] * root[None, :])
            ranks[path] = rank
        if not ranks:
            raise AimassError(
                f"{spec.label}: no Linear layer of the network gets smaller at this "
                f"{'rank' if spec.rank else 'energy'} (a layer in->out is factorised only when "
                "rank * (in + out) < in * out); accepted: a lower rank or energy"
            )
        shape = tuple(int(d) for d in config["input_shape"])
        text = {k: v for k, v in network_options(config).items() if k != "input_kind"}
        network = LowRankNetwork(
            config["model_spec"], ranks, shape, int(config["output_dim"]), **text
        )
        # Start from the original weights, then put in the factors.
        network.body.load_state_dict(
            {
                k: v
                for k, v in source.state_dict().items()
                if not any(k.startswith(p + ".") for p in ranks)
            },
            strict=False,
        )
        with torch.no_grad():
            for path, (first, second) in factors.items():
                layer = network.body.get_submodule(path)
                assert isinstance(layer, LowRankLinear)
                old = source.get_submodule(path)
                assert isinstance(old, nn.Linear)
                layer.first.weight.copy_(first)
                layer.second.weight.copy_(second)
                if old.bias is not None and layer.second.bias is not None:
                    layer.second.bias.copy_(old.bias)
        fit(network, ctx, config, epochs=spec.finetune_epochs, lr=spec.lr)
        model_spec = {
            "family": "custom",
            "target": TARGET,
            "hparams": {"base": config["model_spec"], "ranks": ranks},
        }
        before, _ = count_params(source)
        after, _ = count_params(network)
        return Candidate(
            network,
            {**config, "model_spec": model_spec, "hparams": model_spec["hparams"]},
            spec.label,
            details={
                "ranks": ranks,
                "params": [before, after],
                "finetune_epochs": spec.finetune_epochs,
            },
        )
