"""Compression specs: prune, quantize, distill and low-rank steps, and how they are measured."""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from aimass_lab.errors import accepted
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._catalog import FAMILIES
from aimass_lab.specs._choices import (
    COMPRESS_METHODS,
    METHOD_ALIASES,
    MODE_ALIASES,
    PRUNE_KINDS,
    QUANTIZE_MODES,
    PruneKind,
    QuantizeMode,
)
from aimass_lab.specs._data import DataSpec
from aimass_lab.specs._model import ModelSpec

__all__ = [
    "BenchmarkSpec",
    "CompressMethodSpec",
    "CompressSpec",
    "DistillSpec",
    "LowRankSpec",
    "PruneSpec",
    "QuantizeSpec",
    "STUDENT_PRESETS",
    "parse_method",
]

#: Named students for distillation: a zoo family with small hyperparameters.
STUDENT_PRESETS: dict[str, dict[str, Any]] = {
    "mlp-small": {"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
    "mlp-tiny": {"family": "mlp", "hparams": {"hidden": 16, "layers": 1}},
    "cnn-small": {"family": "cnn", "hparams": {"channels": 8, "layers": 1, "hidden": 32}},
}


def _ratio(value: Any) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = float("nan")
    if not 0.0 < ratio < 1.0:
        raise ValueError(
            f"prune ratio must be strictly between 0 and 1 (the fraction of weights, or of "
            f"neurons for structured pruning, to remove, e.g. 0.5); got {value!r}"
        )
    return ratio


class PruneSpec(Spec):
    """Magnitude pruning, then fine-tuning.

    ``unstructured`` zeroes the smallest weights of Linear and Conv layers (``scope``:
    ``global`` ranks all of them together, ``layer`` prunes each layer by ``ratio``);
    ``structured`` removes whole neurons of an MLP's hidden layers, or whole channels of a
    CNN's convolutions (and neurons of its head), so that the network gets smaller and faster.
    """

    method: Literal["prune"] = "prune"
    kind: PruneKind = Field("unstructured", description="unstructured or structured")
    ratio: float = Field(0.5, description="fraction removed, strictly between 0 and 1")
    scope: Literal["global", "layer"] = Field("global", description="unstructured: global or layer")
    finetune_epochs: int = Field(2, ge=0, le=10_000, description="epochs of fine-tuning after")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="fine-tuning learning rate")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        return one_of(value, PRUNE_KINDS, "prune kind")

    @field_validator("ratio", mode="before")
    @classmethod
    def _check_ratio(cls, value: Any) -> float:
        return _ratio(value)

    @property
    def label(self) -> str:
        """``prune:structured:0.5``."""
        return f"prune:{self.kind}:{self.ratio:g}"


class QuantizeSpec(Spec):
    """ONNX Runtime int8 quantisation: dynamic, or static QDQ calibrated on training batches."""

    method: Literal["quantize"] = "quantize"
    mode: QuantizeMode = Field("int8-dynamic", description="int8-dynamic or int8-static")
    per_channel: bool = Field(False, description="one scale per output channel of each weight")
    calibration_batches: int = Field(
        8, ge=1, le=100_000, description="int8-static: training batches used to calibrate"
    )
    batch_size: int = Field(32, ge=1, le=1_000_000, description="rows per calibration batch")
    target_cpu: str = Field(
        "auto",
        description="the CPU the model is quantised for: 'auto' (this machine, or "
        "AIMASS_CPU_ISA) or an instruction set such as 'avx2' or 'avx512-vnni'; on x86 "
        "without VNNI the weights are quantised to 7 bits (reduce_range)",
    )
    optimize: bool = Field(
        False,
        description="pretrained Transformers models: apply ONNX Runtime's transformer graph "
        "optimisations (attention, layer norm, GELU fusions) to the float32 graph first",
    )

    @field_validator("target_cpu", mode="before")
    @classmethod
    def _target_cpu(cls, value: object) -> str:
        from aimass_lab._cpu import ISAS

        text = str(value).strip().lower()
        if text != "auto" and text not in ISAS:
            raise ValueError(f"unknown target_cpu {value!r}; accepted: {accepted(('auto', *ISAS))}")
        return text

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> str:
        text = MODE_ALIASES.get(str(value), str(value))
        if text not in QUANTIZE_MODES:
            raise ValueError(
                f"unknown quantize mode {value!r}; accepted: {accepted(QUANTIZE_MODES)}"
            )
        return text

    @property
    def label(self) -> str:
        """``quantize:int8-dynamic``, ``quantize:int8-static:per-channel:target_cpu=avx2``."""
        cpu = "" if self.target_cpu == "auto" else f":target_cpu={self.target_cpu}"
        opt = ":optimize" if self.optimize else ""
        return f"quantize:{self.mode}{':per-channel' if self.per_channel else ''}{opt}{cpu}"


class DistillSpec(Spec):
    """Knowledge distillation of the model (the teacher) into a smaller zoo student.

    The loss is ``alpha * T^2 * KL(student/T || teacher/T) + (1 - alpha) * cross-entropy``.
    """

    method: Literal["distill"] = "distill"
    student: str | ModelSpec = Field(
        "mlp-small", description="a preset (mlp-small, mlp-tiny, cnn-small), zoo name or ModelSpec"
    )
    temperature: float = Field(4.0, gt=0.0, le=100.0)
    alpha: float = Field(0.7, ge=0.0, le=1.0, description="weight of the distillation term")
    epochs: int = Field(10, ge=1, le=10_000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=1_000_000)
    layers: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="pretrained teachers: the student is the teacher's own architecture with "
        "this many encoder layers (student is then ignored)",
    )
    student_init: Literal["teacher", "fresh"] = Field(
        "teacher",
        description="with layers: start from the teacher's embeddings, bottom layers and head "
        "(teacher), or from random weights (fresh)",
    )

    @field_validator("student")
    @classmethod
    def _student(cls, value: str | ModelSpec) -> str | ModelSpec:
        if isinstance(value, str) and value not in STUDENT_PRESETS and value not in FAMILIES:
            raise ValueError(
                f"unknown student {value!r}; accepted: a preset "
                f"({accepted(STUDENT_PRESETS)}), a zoo name ({accepted(FAMILIES)}) or a "
                "ModelSpec such as {'family': 'mlp', 'hparams': {'hidden': 32}}"
            )
        return value

    def student_spec(self) -> ModelSpec:
        """The student as a :class:`ModelSpec`."""
        if isinstance(self.student, ModelSpec):
            return self.student
        return ModelSpec.from_dict(STUDENT_PRESETS.get(self.student, {"family": self.student}))

    @property
    def label(self) -> str:
        """``distill:student=mlp-small``, ``distill:layers=2``."""
        if self.layers is not None:
            fresh = ":student_init=fresh" if self.student_init == "fresh" else ""
            return f"distill:layers={self.layers}{fresh}"
        name = self.student if isinstance(self.student, str) else self.student.family
        return f"distill:student={name}"


class LowRankSpec(Spec):
    """SVD factorisation of Linear layers to a rank or an energy threshold, then fine-tuning.

    Give ``rank`` (the same rank for every layer) or ``energy`` (the smallest rank keeping
    that fraction of each layer's squared singular values). A layer is factorised only when
    that makes it smaller.
    """

    method: Literal["low-rank"] = "low-rank"
    rank: int | None = Field(None, ge=1, le=1_000_000)
    energy: float | None = Field(None, gt=0.0, le=1.0)
    finetune_epochs: int = Field(2, ge=0, le=10_000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _check(self) -> LowRankSpec:
        if (self.rank is None) == (self.energy is None):
            if self.rank is None and self.energy is None:
                object.__setattr__(self, "energy", 0.9)
                return self
            raise ValueError("give rank or energy, not both")
        return self

    @property
    def label(self) -> str:
        """``low-rank:rank=16`` or ``low-rank:energy=0.9``."""
        return f"low-rank:rank={self.rank}" if self.rank else f"low-rank:energy={self.energy:g}"


class BenchmarkSpec(Spec):
    """How latency and throughput are measured for the compression report."""

    warmup: int = Field(5, ge=0, le=100_000)
    runs: int = Field(50, ge=2, le=1_000_000, description="timed runs at batch 1 (p50, p95)")
    batch_size: int = Field(32, ge=1, le=100_000, description="batch of the throughput figure")
    throughput_runs: int = Field(10, ge=1, le=1_000_000)
    threads: int | None = Field(None, ge=1, le=1024, description="intra-op threads (torch, ORT)")


CompressMethodSpec = PruneSpec | QuantizeSpec | DistillSpec | LowRankSpec
_METHOD_SPECS: dict[str, type[Spec]] = {
    "prune": PruneSpec,
    "quantize": QuantizeSpec,
    "distill": DistillSpec,
    "low-rank": LowRankSpec,
}
_EPOCHS_FIELD = {"prune": "finetune_epochs", "low-rank": "finetune_epochs", "distill": "epochs"}


def parse_method(text: str) -> dict[str, Any]:
    """Turn a method string into the dict of its spec.

    ``prune:structured:0.5``, ``prune:0.3``, ``quantize:int8-static:per-channel``,
    ``distill:student=mlp-small``, ``low-rank:rank=16``, ``low-rank:0.9`` (energy);
    ``key=value`` parts set any field, ``epochs=N`` the fine-tuning epochs.

    Raises
    ------
    ValueError
        For an unknown method or a part it does not understand.
    """
    parts = [p.strip() for p in str(text).split(":")]
    method = METHOD_ALIASES.get(parts[0], parts[0])
    if method not in COMPRESS_METHODS:
        raise ValueError(
            f"unknown compression method {parts[0]!r} in {text!r}; accepted: "
            f"{accepted(COMPRESS_METHODS)}, e.g. 'prune:structured:0.5'"
        )
    out: dict[str, Any] = {"method": method}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            key = key.strip().replace("-", "_")
            if key == "epochs":
                key = _EPOCHS_FIELD.get(method, key)
            out[key] = yaml.safe_load(value) if value else value
            continue
        if method == "prune":
            if part in PRUNE_KINDS:
                out["kind"] = part
            elif part in ("global", "layer"):
                out["scope"] = part
            else:
                out["ratio"] = yaml.safe_load(part)
        elif method == "quantize":
            if part in ("per-channel", "per_channel"):
                out["per_channel"] = True
            elif part == "optimize":
                out["optimize"] = True
            else:
                out["mode"] = part
        elif method == "distill":
            out["student"] = part
        else:
            if re.fullmatch(r"\d+", part):
                out["rank"] = int(part)
            else:
                out["energy"] = yaml.safe_load(part)
    return out


class CompressSpec(Spec):
    """Compression steps applied in order to a registered model, each registered as a child.

    Steps are :class:`PruneSpec`, :class:`QuantizeSpec`, :class:`DistillSpec` and
    :class:`LowRankSpec` (dicts with a ``method`` key, or strings such as
    ``"prune:structured:0.5"``). Quantisation turns the model into int8 ONNX and must be the
    last step.

    Examples
    --------
    >>> spec = CompressSpec(methods=["prune:structured:0.5", "quantize:int8-dynamic"])
    >>> [m.label for m in spec.methods]
    ['prune:structured:0.5', 'quantize:int8-dynamic']
    """

    methods: list[CompressMethodSpec] = Field(description="the steps, applied in order")
    data: DataSpec | None = Field(
        None, description="data to fine-tune, calibrate and evaluate on (default: the model's)"
    )
    name: str | None = Field(
        None, description="registry name of the variants (default: the model's)"
    )
    parity_atol: float = Field(
        1e-4, gt=0.0, description="largest |torch - ONNX| accepted for a float32 export"
    )
    int8_min_agreement: float = Field(
        0.9, ge=0.0, le=1.0, description="smallest argmax agreement of an int8 model with fp32"
    )
    int8_max_rel_error: float = Field(
        0.05,
        gt=0.0,
        le=10.0,
        description="regression: largest max|int8 - fp32| / max|fp32| of an int8 model",
    )
    batch_size: int = Field(64, ge=1, le=1_000_000, description="fine-tuning batch size")
    external_data_threshold: int = Field(
        2_000_000_000,
        ge=0,
        description="ONNX files over this many bytes keep their tensors in model.onnx.data "
        "beside model.onnx (an ONNX file cannot exceed 2 GiB)",
    )
    seed: int = 0
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)

    @field_validator("methods", mode="before")
    @classmethod
    def _parse_methods(cls, value: object) -> object:
        if isinstance(value, str | dict | Spec):
            value = [value]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(
                "give at least one method, e.g. ['prune:structured:0.5', 'quantize:int8-dynamic']"
            )
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                item = parse_method(item)
            if isinstance(item, dict):
                method = METHOD_ALIASES.get(str(item.get("method")), item.get("method"))
                if not isinstance(method, str) or method not in _METHOD_SPECS:
                    raise ValueError(
                        f"unknown compression method {item.get('method')!r}; accepted: "
                        f"{accepted(COMPRESS_METHODS)}"
                    )
                item = _METHOD_SPECS[method](**{**item, "method": method})
            out.append(item)
        return out

    @model_validator(mode="after")
    def _check(self) -> CompressSpec:
        for i, step in enumerate(self.methods):
            if isinstance(step, QuantizeSpec) and i != len(self.methods) - 1:
                raise ValueError(
                    f"quantize must be the last step (it turns the model into int8 ONNX, which "
                    f"the later steps cannot change); got it at step {i + 1} of "
                    f"{len(self.methods)}: {[m.label for m in self.methods]}"
                )
        return self
