"""ONNX Runtime int8 quantisation: dynamic, or static QDQ with calibration batches.

The settings follow the CPU the model is quantised for (:mod:`aimass_lab._cpu`): on x86
without VNNI the weights are quantised to 7 bits (``reduce_range``) so that ONNX Runtime's
saturating int16 kernels cannot overflow.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from aimass_lab._cpu import detect_isa, int8_settings
from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._onnx import INPUT_NAME, export_network, is_int8
from aimass_lab.compress._transformer import onnx_files, optimize_graph, ort_model_type, save_onnx
from aimass_lab.errors import AimassError, DataError
from aimass_lab.specs import QuantizeSpec

__all__ = ["Quantize", "calibration_batches"]


def calibration_batches(
    x: Any, input_shape: tuple[int, ...], *, batches: int, batch_size: int, what: str
) -> list[np.ndarray]:
    """Cut calibration data into batches, after checking it fits the model's input.

    Raises
    ------
    DataError
        When the samples do not have the model's input shape, or there are none.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < 1 or tuple(arr.shape[1:]) != tuple(input_shape):
        got = tuple(arr.shape[1:]) if arr.ndim >= 1 else ()
        raise DataError(
            f"calibration data for {what} has samples of shape {got} (array {tuple(arr.shape)}), "
            f"but the model takes samples of shape {tuple(input_shape)}; accepted: an array "
            f"of shape (N, {', '.join(map(str, input_shape))}) preprocessed like the "
            "training data"
        )
    if len(arr) == 0:
        raise DataError(f"calibration data for {what} is empty; give at least one sample")
    out = [arr[i : i + batch_size] for i in range(0, len(arr), batch_size)]
    return out[:batches]


def _padded(x: np.ndarray, shape: tuple[int, ...], pad: float) -> np.ndarray:
    """Token-id rows shorter than the model's ``max_length`` padded to it (text models)."""
    if x.ndim != 2 or len(shape) != 1 or x.shape[1] >= shape[0]:
        return x
    out = np.full((len(x), shape[0]), pad, np.float32)
    out[:, : x.shape[1]] = x
    return out


class _Reader:
    """An ONNX Runtime CalibrationDataReader over a list of batches."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._it = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:  # pragma: no cover - used by some calibrators
        pass


class Quantize(CompressionMethod):
    """int8 quantisation with ONNX Runtime (see :class:`~aimass_lab.specs.QuantizeSpec`)."""

    name = "quantize"
    spec: QuantizeSpec

    def check(self, candidate: Candidate, ref: str | None = None) -> None:
        """Refuse a candidate that is already int8, or ``optimize`` for a model ONNX Runtime
        has no transformer optimisations for."""
        if self.spec.optimize:
            ort_model_type(candidate.config)
        if candidate.quantized or (
            candidate.onnx_path is not None and is_int8(candidate.onnx_path)
        ):
            what = f"model {ref}" if ref else f"the model ({candidate.method})"
            raise AimassError(
                f"{self.spec.label}: {what} is already int8 "
                f"({candidate.quantized or 'quantised ONNX'}); quantising it again would only "
                "lose accuracy. Quantise its float32 parent instead"
                + (
                    f" ({candidate.config.get('compression', {}).get('source')})"
                    if candidate.config.get("compression", {}).get("source")
                    else ""
                )
            )

    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        spec = self.spec
        self.check(candidate)
        shape = tuple(int(d) for d in candidate.config["input_shape"])
        work = Path(ctx.tmp) / f"quantize-{id(candidate)}"
        work.mkdir(parents=True, exist_ok=True)
        fp32 = work / "fp32.onnx"
        threshold = ctx.spec.external_data_threshold
        export_network(candidate.network, shape, fp32, external_data_threshold=threshold)
        optimized = None
        if spec.optimize:
            optimized = optimize_graph(fp32, fp32, candidate.config, threshold)
        out = work / "model.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # ORT logs advice on every call
        try:
            self._quantize(candidate, ctx, fp32, work / "int8.onnx", shape)
        finally:
            root.setLevel(level)
        save_onnx(work / "int8.onnx", out, threshold)
        int8 = {
            "isa": self._settings["isa"],
            "reduce_range": self._settings["reduce_range"],
            "detected_isa": self._detected,
            "why": self._settings["why"],
        }
        details: dict[str, Any] = {
            "mode": spec.mode,
            "per_channel": spec.per_channel,
            "int8": int8,
        }
        if spec.mode == "int8-static":
            details["calibration_rows"] = self._rows
        if optimized is not None:
            details["ort_optimizer"] = optimized
        config = {
            **candidate.config,
            "compression": {
                **(candidate.config.get("compression") or {}),
                "quantized": spec.mode,
                "int8": int8,
            },
        }
        return Candidate(candidate.network, config, spec.label, onnx_path=out, details=details)

    def _quantize(
        self, candidate: Candidate, ctx: Context, fp32: Path, out: Path, shape: tuple[int, ...]
    ) -> None:
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )

        spec = self.spec
        self._rows = 0
        self._detected = detect_isa()
        target = self._detected if spec.target_cpu == "auto" else spec.target_cpu
        self._settings = int8_settings(target)
        reduce_range = bool(self._settings["reduce_range"])
        external = len(onnx_files(fp32)) > 1
        if spec.mode == "int8-dynamic":
            quantize_dynamic(
                str(fp32),
                str(out),
                per_channel=spec.per_channel,
                reduce_range=reduce_range,
                weight_type=QuantType.QInt8,
                use_external_data_format=external,
                # the fused ops of ORT's transformer optimizer (com.microsoft) have no shape
                # inference: their outputs are float32
                extra_options={"DefaultTensorType": 1},
            )
            return
        source = ctx.calibration
        if source is None:  # the first rows of the training part: all the batches use
            source, _ = ctx.dataset.take("train", spec.calibration_batches * spec.batch_size)
        info = candidate.config.get("pretrained") or {}
        if info.get("kind") == "text":  # a sequence axis: rows padded to the longest in the data
            source = _padded(np.asarray(source, np.float32), shape, float(info.get("pad_id") or 0))
        batches = calibration_batches(
            source,
            shape,
            batches=spec.calibration_batches,
            batch_size=spec.batch_size,
            what=spec.label,
        )
        quantize_static(
            str(fp32),
            str(out),
            _Reader(batches),
            quant_format=QuantFormat.QDQ,
            per_channel=spec.per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            use_external_data_format=external,
        )
        self._rows = int(sum(len(b) for b in batches))
