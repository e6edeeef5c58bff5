"""The model zoo: networks whose input and output shapes come from the dataset."""

from __future__ import annotations

import importlib
import inspect
import math
from typing import Any

import torch
from torch import nn

from aimass_lab.errors import AimassError, SpecError, accepted
from aimass_lab.specs import FAMILIES, ModelSpec

__all__ = ["build_network", "check_compatible", "input_kind_of"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def input_kind_of(input_shape: tuple[int, ...]) -> str:
    """``"tabular"`` for (F,), ``"sequence"`` for (T, F), ``"image"`` for (C, H, W)."""
    return {1: "tabular", 2: "sequence", 3: "image"}.get(len(input_shape), "unknown")


def check_compatible(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    data_label: str = "the dataset",
    input_kind: str | None = None,
) -> None:
    """Raise a clear error when a zoo family cannot take this input.

    ``input_kind`` (``"text"``, ...) overrides the kind guessed from the shape: text token
    ids are ``(max_length,)``, the shape of a table.
    """
    family = FAMILIES.get(spec.family)
    if family is None:
        return
    kind = input_kind if input_kind in ("text", "image") else input_kind_of(tuple(input_shape))
    if kind not in family.inputs:
        takes = [name for name, f in FAMILIES.items() if kind in f.inputs]
        hint = " (for digits, set as_images=True to get 1x8x8 images)" if kind == "tabular" else ""
        raise SpecError(
            "ModelSpec",
            [
                {
                    "field": "family",
                    "value": spec.family,
                    "message": f"model {spec.family!r} takes {' or '.join(family.inputs)} input, but "
                    f"{data_label} is {kind} with shape {tuple(input_shape)}; models for {kind} input: "
                    f"{accepted(takes)}{hint}",
                }
            ],
        )
    if spec.family in ("transformer", "text_transformer"):
        hp = spec.resolved_hparams()
        if hp["d_model"] % hp["heads"]:
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "hparams.heads",
                        "value": hp["heads"],
                        "message": f"must divide d_model ({hp['d_model']})",
                    }
                ],
            )


class MLP(nn.Module):
    """Flatten, then ``layers`` hidden Linear blocks, then a Linear head."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int,
        layers: int,
        dropout: float,
        activation: str,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        blocks.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """conv-bn-relu(-maxpool) blocks that double the channels, then a small MLP head."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        out_features: int,
        channels: int,
        layers: int,
        kernel_size: int,
        hidden: int,
        dropout: float,
    ) -> None:
        super().__init__()
        c, h, w = input_shape
        blocks: list[nn.Module] = []
        for i in range(layers):
            width = channels * 2**i
            blocks += [
                nn.Conv2d(c, width, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if min(h, w) >= 2:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = width
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class ResNet(nn.Module):
    """A stem convolution, ``blocks`` residual basic blocks, global average pooling, a head."""

    def __init__(
        self, in_channels: int, out_features: int, channels: int, blocks: int, dropout: float
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*[_BasicBlock(channels) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(channels, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.head(self.dropout(x))


def _as_sequence(x: torch.Tensor) -> torch.Tensor:
    """(N, F) -> (N, F, 1); (N, C, H, W) -> (N, H, C*W); (N, T, F) unchanged."""
    if x.dim() == 2:
        return x.unsqueeze(-1)
    if x.dim() == 4:
        n, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(n, h, c * w)
    return x


def _sequence_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    if len(input_shape) == 1:
        return input_shape[0], 1
    if len(input_shape) == 3:
        c, h, w = input_shape
        return h, c * w
    return input_shape[0], input_shape[1]


class RNN(nn.Module):
    """A GRU or LSTM over the sequence; the last hidden state of each direction feeds a head."""

    def __init__(
        self,
        cell: str,
        input_shape: tuple[int, ...],
        out_features: int,
        hidden: int,
        layers: int,
        bidirectional: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        _, features = _sequence_shape(input_shape)
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_cls(
            features,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(_as_sequence(x))
        h = state[0] if isinstance(state, tuple) else state
        last = torch.cat([h[-2], h[-1]], dim=1) if self.rnn.bidirectional else h[-1]
        return self.head(last)


class TinyTransformer(nn.Module):
    """Linear projection + learned positions, a Transformer encoder, mean pooling, a head."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        out_features: int,
        d_model: int,
        heads: int,
        layers: int,
        ff: int,
        dropout: float,
    ) -> None:
        super().__init__()
        steps, features = _sequence_shape(input_shape)
        self.proj = nn.Linear(features, d_model)
        self.pos = nn.Parameter(torch.zeros(1, steps, d_model))
        nn.init.normal_(self.pos, std=1.0 / math.sqrt(d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.proj(_as_sequence(x)) + self.pos
        return self.head(self.norm(self.encoder(seq).mean(dim=1)))


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise AimassError(f"cannot import custom model {target!r}: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        # A spec may come from an imported archive: never call an arbitrary callable it names.
        raise AimassError(
            f"custom model {target!r} is not a torch.nn.Module subclass (got {type(obj).__name__}); "
            "accepted: a class deriving from nn.Module or LightningModule"
        )
    return obj


def _pretrained_network(
    spec: ModelSpec,
    shape: tuple[int, ...],
    output_dim: int,
    input_kind: str | None,
    vocab_size: int | None,
    pad_id: int | None,
    input_norm: tuple[float, float] | None,
    pretrained: dict[str, Any] | None,
    classes: list[Any] | None,
) -> nn.Module:
    """A Transformers model from a folder, or a timm/torchvision architecture."""
    from aimass_lab.models._finetune import build_pretrained
    from aimass_lab.models._vision import VISION_LIBRARIES, build_vision

    if spec.architecture or (pretrained or {}).get("library") in VISION_LIBRARIES:
        return build_vision(spec, shape, output_dim, input_norm=input_norm, pretrained=pretrained)
    return build_pretrained(
        spec,
        shape,
        output_dim,
        input_kind=input_kind,
        vocab_size=vocab_size,
        pad_id=pad_id,
        input_norm=input_norm,
        pretrained=pretrained,
        classes=classes,
    )


def build_network(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    output_dim: int,
    *,
    input_kind: str | None = None,
    vocab_size: int | None = None,
    pad_id: int | None = None,
    input_norm: tuple[float, float] | None = None,
    pretrained: dict[str, Any] | None = None,
    classes: list[Any] | None = None,
) -> nn.Module:
    """Build the network a spec describes for this input shape and output size.

    Parameters
    ----------
    spec
        The model spec (a zoo family with hyperparameters, or ``custom`` with a target).
    input_shape
        One sample's shape: ``(F,)``, ``(T, F)`` or ``(C, H, W)``.
    output_dim
        Number of classes, or 1 for regression.
    input_kind
        ``"text"`` for token ids (then ``input_shape`` is ``(max_length,)``); default: the
        kind the shape says. :func:`aimass_lab.models.network_options` reads these from
        a ``model.json``.
    vocab_size, pad_id
        The tokenizer's vocabulary size and padding id (text models).
    input_norm
        ``(mean, std)`` the dataset normalised images with (pretrained image models map it
        back to pixels).
    pretrained
        The ``pretrained`` entry of a ``model.json``: rebuild that pretrained network from
        its recorded config (no folder is read); :func:`network_options` gives it.
    classes
        The class names (the label map of a pretrained model's new head).

    Returns
    -------
    torch.nn.Module
        The network (for ``custom``, whatever the class builds, possibly a LightningModule).
    """
    shape = tuple(int(s) for s in input_shape)
    if spec.family == "custom":
        assert spec.target is not None
        cls = _import_target(spec.target)
        kwargs = dict(spec.hparams)
        params = inspect.signature(cls).parameters
        for key, value in (
            ("input_shape", shape),
            ("output_dim", output_dim),
            ("num_classes", output_dim),
            ("vocab_size", vocab_size),
            ("pad_id", pad_id),
        ):
            if key in params and key not in kwargs:
                kwargs[key] = value
        try:
            return cls(**kwargs)  # type: ignore[no-any-return]
        except TypeError as exc:
            raise AimassError(
                f"cannot build custom model {spec.target!r} with {kwargs}: {exc}"
            ) from None
    check_compatible(spec, shape, input_kind=input_kind)
    if spec.family == "pretrained":
        return _pretrained_network(
            spec, shape, output_dim, input_kind, vocab_size, pad_id, input_norm, pretrained, classes
        )
    hp = spec.resolved_hparams()
    family = spec.family
    if family == "text_transformer":
        return _text_network(spec, shape, output_dim, vocab_size, pad_id)
    if family == "mlp":
        return MLP(
            math.prod(shape),
            output_dim,
            hp["hidden"],
            hp["layers"],
            hp["dropout"],
            hp["activation"],
        )
    if family == "cnn":
        c, h, w = shape
        return CNN(
            (c, h, w),
            output_dim,
            hp["channels"],
            hp["layers"],
            hp["kernel_size"],
            hp["hidden"],
            hp["dropout"],
        )
    if family == "resnet":
        return ResNet(shape[0], output_dim, hp["channels"], hp["blocks"], hp["dropout"])
    if family in ("gru", "lstm"):
        return RNN(
            family,
            shape,
            output_dim,
            hp["hidden"],
            hp["layers"],
            hp["bidirectional"],
            hp["dropout"],
        )
    if family == "transformer":
        return TinyTransformer(
            shape, output_dim, hp["d_model"], hp["heads"], hp["layers"], hp["ff"], hp["dropout"]
        )
    raise AimassError(f"unknown model {family!r}; accepted: {accepted([*FAMILIES, 'custom'])}")


def _text_network(
    spec: ModelSpec,
    shape: tuple[int, ...],
    output_dim: int,
    vocab_size: int | None,
    pad_id: int | None,
) -> nn.Module:
    from aimass_lab.models._text import TextTransformer

    if vocab_size is None or pad_id is None or not 0 <= pad_id < vocab_size:
        raise SpecError(
            "ModelSpec",
            [
                {
                    "field": "family",
                    "value": spec.family,
                    "message": "a text model needs the tokenizer's vocab_size and pad_id "
                    f"(got {vocab_size}, {pad_id}); train it on a dataset with a text column",
                }
            ],
        )
    hp = spec.resolved_hparams()
    return TextTransformer(
        vocab_size,
        pad_id,
        shape[0],
        output_dim,
        hp["d_model"],
        hp["heads"],
        hp["layers"],
        hp["ff"],
        hp["dropout"],
    )
