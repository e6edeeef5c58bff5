"""Magnitude pruning: unstructured (weights zeroed) and structured (neurons and channels removed)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._fit import count_params, fit
from aimass_lab.errors import AimassError, accepted
from aimass_lab.models import build_network, network_options
from aimass_lab.specs import ModelSpec, PruneSpec

__all__ = ["STRUCTURED_FAMILIES", "Prune", "prunable_layers", "shrink_into"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
#: Layers that act on each channel (or neuron) on its own: they pass the kept units through.
_PASS_THROUGH = (
    nn.ReLU,
    nn.GELU,
    nn.Tanh,
    nn.SiLU,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.ELU,
    nn.Dropout,
    nn.Identity,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.AvgPool1d,
    nn.AvgPool2d,
)

#: Zoo families whose neurons (mlp) or channels (cnn) structured pruning removes.
STRUCTURED_FAMILIES: tuple[str, ...] = ("mlp", "cnn")
#: The hyperparameters structured pruning makes smaller, per family.
_WIDTHS: dict[str, tuple[str, ...]] = {"mlp": ("hidden",), "cnn": ("channels", "hidden")}
_UNSUPPORTED = {
    "resnet": " (its residual connections add each block's input to its output, so a "
    "block's channels cannot be removed on one side only)",
    "gru": " (a recurrent layer's gates share its hidden units)",
    "lstm": " (a recurrent layer's gates share its hidden units)",
    "transformer": " (attention heads and the residual stream share their width)",
    "custom": " (a custom or already factorised network: its layer graph is not known)",
}


def prunable_layers(network: nn.Module) -> list[tuple[str, nn.Module]]:
    """Linear and Conv layers, except those inside attention (it reads their weights directly)."""
    skip = {
        f"{path}.{child}" if path else child
        for path, m in network.named_modules()
        if isinstance(m, nn.MultiheadAttention)
        for child, _ in m.named_children()
    }
    return [
        (p, m) for p, m in network.named_modules() if isinstance(m, _PRUNABLE) and p not in skip
    ]


def count_linear(network: nn.Module) -> int:
    """How many Linear layers a network has."""
    return sum(isinstance(m, nn.Linear) for m in network.modules())


def _kept(width: int, ratio: float) -> int:
    return max(1, round(width * (1 - ratio)))


def _leaves(network: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(p, m) for p, m in network.named_modules() if p and not list(m.children())]


def _top(score: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of the ``n`` largest scores, in their original order."""
    return torch.topk(score, n).indices.sort().values


def shrink_into(old: nn.Module, new: nn.Module, what: str = "structured pruning") -> dict[str, Any]:
    """Copy the strongest units of ``old`` into the narrower ``new`` network.

    Both networks have the same layers in the same (forward) order; ``new``'s widths say how
    many output neurons (Linear) or channels (Conv) each layer keeps. The kept units of a
    layer are those with the largest outgoing scale: for a Conv followed by a BatchNorm,
    ``gamma^2 + beta^2`` of the BatchNorm; otherwise the squared norm of the unit's weights
    plus its squared bias. The next layer keeps the matching inputs: a BatchNorm its
    statistics, a Conv its input channels, a Linear after a Flatten the ``H * W`` columns of
    each kept channel.

    Returns
    -------
    dict
        ``{layer path: [outputs before, outputs after]}`` of the layers that lost units.

    Raises
    ------
    AimassError
        Naming the layer when the networks differ or a layer cannot pass kept units on.
    """
    a, b = _leaves(old), _leaves(new)
    if [type(m) for _, m in a] != [type(m) for _, m in b]:
        raise AimassError(f"{what}: the narrower network does not have the same layers")
    removed: dict[str, Any] = {}
    prev: torch.Tensor | None = None  # kept input units of the next layer (None: all)
    channels = 0  # output channels of the last Conv (for a Flatten after it)
    flat_channels: int | None = None
    with torch.no_grad():
        for i, ((path, o), (_, n)) in enumerate(zip(a, b, strict=True)):
            follower = a[i + 1][1] if i + 1 < len(a) else None
            if isinstance(o, _CONV):
                assert isinstance(n, _CONV)
                weight = o.weight if prev is None else o.weight[:, prev]
                keep = torch.arange(o.out_channels)
                if n.out_channels < o.out_channels:
                    if isinstance(follower, _NORM) and follower.affine:
                        score = follower.weight.pow(2) + follower.bias.pow(2)
                    else:
                        score = weight.flatten(1).pow(2).sum(1)
                        if o.bias is not None:
                            score = score + o.bias.pow(2)
                    keep = _top(score, n.out_channels)
                    removed[path] = [o.out_channels, n.out_channels]
                n.weight.copy_(weight[keep])
                if o.bias is not None and n.bias is not None:
                    n.bias.copy_(o.bias[keep])
                prev, channels, flat_channels = keep, o.out_channels, None
            elif isinstance(o, _NORM):
                assert isinstance(n, _NORM)
                idx = prev if prev is not None else torch.arange(o.num_features)
                if o.affine:
                    n.weight.copy_(o.weight[idx])
                    n.bias.copy_(o.bias[idx])
                if o.running_mean is not None and n.running_mean is not None:
                    n.running_mean.copy_(o.running_mean[idx])
                    assert o.running_var is not None and n.running_var is not None
                    n.running_var.copy_(o.running_var[idx])
                if o.num_batches_tracked is not None and n.num_batches_tracked is not None:
                    n.num_batches_tracked.copy_(o.num_batches_tracked)
            elif isinstance(o, nn.Flatten):
                flat_channels = channels if prev is not None else None
            elif isinstance(o, nn.Linear):
                assert isinstance(n, nn.Linear)
                cols = prev
                if prev is not None and flat_channels:
                    positions = o.in_features // flat_channels
                    cols = (prev[:, None] * positions + torch.arange(positions)).flatten()
                weight = o.weight if cols is None else o.weight[:, cols]
                keep = torch.arange(o.out_features)
                if n.out_features < o.out_features:
                    score = weight.pow(2).sum(dim=1)
                    if o.bias is not None:
                        score = score + o.bias.pow(2)
                    keep = _top(score, n.out_features)
                    removed[path] = [o.out_features, n.out_features]
                n.weight.copy_(weight[keep])
                if o.bias is not None and n.bias is not None:
                    n.bias.copy_(o.bias[keep])
                prev = keep if n.out_features < o.out_features else None
                flat_channels = None
            elif not isinstance(o, _PASS_THROUGH):
                raise AimassError(
                    f"{what}: layer {path!r} ({type(o).__name__}) cannot pass the kept "
                    "channels on; accepted between pruned layers: BatchNorm, Flatten, "
                    "activations, dropout and pooling"
                )
    return removed


class Prune(CompressionMethod):
    """Magnitude pruning then fine-tuning (see :class:`~aimass_lab.specs.PruneSpec`)."""

    name = "prune"
    spec: PruneSpec

    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        if self.spec.kind == "structured":
            return self._structured(candidate, ctx)
        return self._unstructured(candidate, ctx)

    def _unstructured(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        network = copy.deepcopy(candidate.network)
        layers = prunable_layers(network)
        if not layers:
            raise AimassError(
                f"{spec.label}: the network ({type(network).__name__}) has no Linear or Conv "
                "layer to prune"
            )
        params = [(m, "weight") for _, m in layers]
        if spec.scope == "global":
            torch_prune.global_unstructured(
                params, pruning_method=torch_prune.L1Unstructured, amount=spec.ratio
            )
        else:
            for module, name in params:
                torch_prune.l1_unstructured(module, name, amount=spec.ratio)
        # Fine-tune with the masks in place (pruned weights stay zero), then make it permanent.
        fit(network, ctx, candidate.config, epochs=spec.finetune_epochs, lr=spec.lr)
        for module, name in params:
            torch_prune.remove(module, name)
        weights = [m.get_parameter("weight") for _, m in layers]
        total = sum(int(w.numel()) for w in weights)
        zeros = sum(int((w == 0).sum()) for w in weights)
        return Candidate(
            network,
            dict(candidate.config),
            spec.label,
            details={
                "kind": "unstructured",
                "scope": spec.scope,
                "ratio": spec.ratio,
                "sparsity": zeros / total if total else 0.0,
                "layers": [p for p, _ in layers],
                "finetune_epochs": spec.finetune_epochs,
            },
        )

    def _structured(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        config = candidate.config
        model_spec = ModelSpec.from_dict(config["model_spec"])
        family = model_spec.family
        if family not in STRUCTURED_FAMILIES:
            why = _UNSUPPORTED.get(family, "")
            raise AimassError(
                f"{spec.label}: structured pruning removes the hidden neurons of an MLP and the "
                f"channels of a CNN, but this model is {family!r}{why}; accepted families: "
                f"{accepted(STRUCTURED_FAMILIES)}. Use unstructured pruning "
                "('prune:unstructured:0.5'), low-rank or distill"
            )
        hp = model_spec.resolved_hparams()
        if family == "mlp" and (hp["layers"] < 1 or count_linear(candidate.network) < 2):
            raise AimassError(
                f"{spec.label}: the MLP has no hidden layer (layers={hp['layers']}), so there "
                "are no neurons to remove; accepted: an MLP with layers >= 1"
            )
        widths = {k: (int(hp[k]), _kept(int(hp[k]), spec.ratio)) for k in _WIDTHS[family]}
        new_spec = ModelSpec.from_dict(
            {
                **model_spec.to_dict(),
                "hparams": {**model_spec.hparams, **{k: new for k, (_, new) in widths.items()}},
            }
        )
        shape = tuple(int(d) for d in config["input_shape"])
        smaller = build_network(new_spec, shape, int(config["output_dim"]), **network_options(config))
        removed = shrink_into(candidate.network, smaller, spec.label)
        fit(smaller, ctx, config, epochs=spec.finetune_epochs, lr=spec.lr)
        before, _ = count_params(candidate.network)
        after, _ = count_params(smaller)
        return Candidate(
            smaller,
            {
                **config,
                "model_spec": new_spec.to_dict(),
                "hparams": {
                    **config.get("hparams", {}),
                    **{k: new for k, (_, new) in widths.items()},
                },
            },
            spec.label,
            details={
                "kind": "structured",
                "ratio": spec.ratio,
                **{k: [old, new] for k, (old, new) in widths.items()},
                "layers": removed,
                "params": [before, after],
                "finetune_epochs": spec.finetune_epochs,
            },
        )
