"""Engines: ONNX Runtime (CPU, or CUDA when present) and torch, behind one small interface.

A version is *prepared* once in the server process (its files checked against the
registry's sha256, its ``model.json`` read) into a plain JSON-able load spec. The load spec
opens an :class:`Engine` in the server process or in a replica worker process, which
checks the sha256 of every file again before loading it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from aimass_lab.errors import AimassError, IntegrityError, accepted
from aimass_lab.models import weight_files
from aimass_lab.serve.server._config import ENGINES
from aimass_lab.serve.server._protocol import TensorMeta
from aimass_lab.settings import env_name, settings

__all__ = ["ENGINES", "Engine", "open_engine", "prepare"]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
ONNX_FILE = "model.onnx"
#: The tensors of a model.onnx over 2 GiB, which ONNX Runtime finds by name beside it.
ONNX_DATA_FILE = "model.onnx.data"
#: Seconds every batch sleeps first (tests only: slow batches for queue, timeout, drain, crash).
TEST_DELAY_ENV = env_name("serve_test_delay_s")
WEIGHTS_FILE = "weights.safetensors"
_BUILD_LOCK = threading.Lock()

_ORT_TYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
}


def prepare(mv: Any, engine: str = "auto", device: str = "auto") -> dict[str, Any]:
    """The load spec of a registered version: verified file paths, config, engine.

    Parameters
    ----------
    mv
        A :class:`~aimass_lab.registry.ModelVersion` attached to its workspace.
    engine
        ``"auto"`` (ONNX Runtime when the version holds ``model.onnx``, else torch),
        ``"onnxruntime"`` or ``"torch"``.
    device
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    IntegrityError
        When a file is missing or was modified.
    AimassError
        When the engine cannot serve this version.
    """
    if engine not in ENGINES:
        raise AimassError(f"unknown engine {engine!r}; accepted: {accepted(ENGINES)}")
    if device not in DEVICES:
        raise AimassError(f"unknown device {device!r}; accepted: {accepted(DEVICES)}")
    has_onnx = ONNX_FILE in mv.manifest
    if engine == "auto":
        engine = "onnxruntime" if has_onnx else "torch"
    if engine == "onnxruntime" and not has_onnx:
        raise AimassError(
            f"model {mv.ref} has no {ONNX_FILE}: export it first (aimass_lab.export_onnx"
            f"({mv.ref!r})) or serve it with engine 'torch'"
        )
    if engine == "torch" and WEIGHTS_FILE not in mv.manifest:
        raise AimassError(f"model {mv.ref} has no {WEIGHTS_FILE}; serve it with 'onnxruntime'")
    files = mv.files()  # sha256-verified
    config = mv.config
    needed = [ONNX_FILE] if engine == "onnxruntime" else weight_files(config)  # with shards
    if engine == "onnxruntime" and ONNX_DATA_FILE in mv.manifest:
        needed.append(ONNX_DATA_FILE)
    return {
        "ref": mv.ref,
        "name": mv.name,
        "version": mv.version,
        "aliases": list(mv.aliases),
        "engine": engine,
        "device": device,
        "config": config,
        "files": {n: {"path": str(files[n]), "sha256": mv.manifest[n]["sha256"]} for n in needed},
    }


def _verify(spec: dict[str, Any]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, entry in spec["files"].items():
        path = Path(entry["path"])
        digest = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as exc:
            raise IntegrityError(
                f"file {name!r} of model {spec['ref']} is missing: {exc}"
            ) from None
        if digest.hexdigest() != entry["sha256"]:
            raise IntegrityError(
                f"file {name!r} of model {spec['ref']} was modified: sha256 "
                f"{digest.hexdigest()} instead of {entry['sha256']}"
            )
        out[name] = path
    return out


class Engine:
    """A loaded model: ``run({input: array}) -> [output arrays]`` (axis 0 is the batch)."""

    kind = "base"
    inputs: list[TensorMeta]
    outputs: list[TensorMeta]
    device: str

    def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Free the engine."""

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.kind,
            "device": self.device,
            "inputs": [m.to_dict() for m in self.inputs],
            "outputs": [m.to_dict() for m in self.outputs],
        }


def _dim(d: Any) -> int:
    return int(d) if isinstance(d, int) and d >= 0 else -1


def _link(src: Path, dst: Path) -> Path:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copyfile(src, dst)
    return dst


class OnnxEngine(Engine):
    """ONNX Runtime, with the CUDA provider first when asked for (or ``auto``) and present."""

    kind = "onnxruntime"

    def __init__(
        self, path: Path, device: str, threads: int | None, data: Path | None = None
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = max(1, threads or 1)
        options.inter_op_num_threads = 1
        # No busy-waiting: the event loop and the other replicas need the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        elif device == "cuda":
            raise AimassError(
                "device 'cuda' asked for but ONNX Runtime has no CUDAExecutionProvider here "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use 'cpu'"
            )
        if data is None:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        else:
            with tempfile.TemporaryDirectory(prefix="aimass-onnx-") as folder:
                # stored files are named by sha256: link them under the names the model uses
                linked = _link(path, Path(folder) / ONNX_FILE)
                _link(data, Path(folder) / ONNX_DATA_FILE)
                self.session = ort.InferenceSession(str(linked), options, providers=providers)
        self.device = "cuda" if self.session.get_providers()[0].startswith("CUDA") else "cpu"
        self.inputs = [
            TensorMeta(i.name, _ORT_TYPES.get(i.type, "FP32"), tuple(_dim(d) for d in i.shape))
            for i in self.session.get_inputs()
        ]
        self.outputs = [
            TensorMeta(o.name, _ORT_TYPES.get(o.type, "FP32"), tuple(_dim(d) for d in o.shape))
            for o in self.session.get_outputs()
        ]
        self._names = [o.name for o in self.outputs]

    def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(self._names, arrays))


class TorchEngine(Engine):
    """A torch network rebuilt from ``model.json`` and safetensors weights (no pickle)."""

    kind = "torch"

    def __init__(
        self,
        config: dict[str, Any],
        weights: Path | list[Path],
        device: str,
        threads: int | None,
        label: str,
    ) -> None:
        import torch

        from aimass_lab.models import load_network

        if device == "cuda" and not torch.cuda.is_available():
            raise AimassError("device 'cuda' asked for but torch sees no CUDA device; use 'cpu'")
        self.device = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        # one build at a time: versions load in threads, and transformers' lazy module
        # is not safe to import from two threads at once (AttributeError: no AutoConfig)
        with _BUILD_LOCK:
            self.network = load_network(config, weights, label=label, device=self.device)
        self._lock = threading.Lock()
        shape = tuple(int(d) for d in config["input_shape"])
        if config.get("input_kind") == "text":
            shape = (-1,)  # token ids of any length up to max_length: padded per batch
        self.inputs = [TensorMeta("input", "FP32", (-1, *shape))]
        self.outputs = [TensorMeta("output", "FP32", (-1, int(config["output_dim"])))]

    def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        # writable + contiguous float32 (arrays from a worker's pipe are read-only views)
        x = torch.from_numpy(np.require(arrays["input"], np.float32, ["C", "W"]))
        with self._lock, torch.inference_mode():
            out = self.network(x.to(self.device))
        return [out.detach().cpu().numpy().reshape(len(x), -1).astype(np.float32, copy=False)]


def open_engine(spec: dict[str, Any], threads: int | None = None) -> Engine:
    """Open the engine of a load spec (from :func:`prepare`), checking the files' sha256."""
    paths = _verify(spec)
    engine: Engine
    if spec["engine"] == "onnxruntime":
        engine = OnnxEngine(
            paths[ONNX_FILE], spec["device"], threads, data=paths.get(ONNX_DATA_FILE)
        )
    else:
        engine = TorchEngine(
            spec["config"],
            [paths[name] for name in weight_files(spec["config"])],
            spec["device"],
            threads,
            f"model {spec['ref']}",
        )
    delay = settings().serve_test_delay_s
    if delay > 0:  # a testing knob: slow batches, to test queues, timeouts, drains, crashes
        run = engine.run

        def slow_run(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
            time.sleep(delay)
            return run(arrays)

        engine.run = slow_run  # type: ignore[method-assign]
    return engine
