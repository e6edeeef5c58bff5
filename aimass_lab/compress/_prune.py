"""Magnitude pruning: unstructured (weights zeroed) and structured (MLP neurons removed)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._fit import count_params, fit
from aimass_lab.errors import AimassError
from aimass_lab.models import build_network
from aimass_lab.specs import ModelSpec, PruneSpec

__all__ = ["Prune", "prunable_layers"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


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
        if model_spec.family != "mlp":
            raise AimassError(
                f"{spec.label}: structured pruning removes the neurons of an MLP's hidden "
                f"layers, but this model is {model_spec.family!r}; accepted families: 'mlp'. "
                "Use unstructured pruning ('prune:unstructured:0.5'), low-rank or distill"
            )
        hp = model_spec.resolved_hparams()
        linears = [m for m in candidate.network.modules() if isinstance(m, nn.Linear)]
        if hp["layers"] < 1 or len(linears) < 2:
            raise AimassError(
                f"{spec.label}: the MLP has no hidden layer (layers={hp['layers']}), so there "
                "are no neurons to remove; accepted: an MLP with layers >= 1"
            )
        hidden = int(hp["hidden"])
        keep_n = max(1, round(hidden * (1 - spec.ratio)))
        new_spec = ModelSpec.from_dict(
            {**model_spec.to_dict(), "hparams": {**model_spec.hparams, "hidden": keep_n}}
        )
        shape = tuple(int(d) for d in config["input_shape"])
        smaller = build_network(new_spec, shape, int(config["output_dim"]))
        new_linears = [m for m in smaller.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            previous: torch.Tensor | None = None
            for i, (old, new) in enumerate(zip(linears, new_linears, strict=True)):
                weight = old.weight if previous is None else old.weight[:, previous]
                if i < len(linears) - 1:
                    # The neurons whose incoming weights (and bias) are largest stay.
                    score = weight.pow(2).sum(dim=1)
                    if old.bias is not None:
                        score = score + old.bias.pow(2)
                    keep = torch.topk(score, keep_n).indices.sort().values
                    new.weight.copy_(weight[keep])
                    if old.bias is not None:
                        new.bias.copy_(old.bias[keep])
                    previous = keep
                else:
                    new.weight.copy_(weight)
                    if old.bias is not None:
                        new.bias.copy_(old.bias)
        fit(smaller, ctx, config, epochs=spec.finetune_epochs, lr=spec.lr)
        before, _ = count_params(candidate.network)
        after, _ = count_params(smaller)
        return Candidate(
            smaller,
            {
                **config,
                "model_spec": new_spec.to_dict(),
                "hparams": {**config.get("hparams", {}), "hidden": keep_n},
            },
            spec.label,
            details={
                "kind": "structured",
                "ratio": spec.ratio,
                "hidden": [hidden, keep_n],
                "params": [before, after],
                "finetune_epochs": spec.finetune_epochs,
            },
        )
