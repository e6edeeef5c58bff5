"""Export a registered ONNX model version for KServe: an ``InferenceService`` (v1beta1) on the
Triton runtime, and the model repository it reads from its storage URI."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.serve.deploy._triton import ONNX_FILE, export_triton
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = ["KServeExportError", "export_kserve", "inference_service"]

#: The InferenceService's file in the exported folder; the model repository is beside it.
MANIFEST = "inference-service.yaml"
REPOSITORY = "model-repository"
#: Storage URI schemes KServe's storage initializer downloads from.
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://", "https://", "http://", "hdfs://", "webhdfs://",
                   "oci://", "hf://")  # fmt: skip
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class KServeExportError(AimassError):
    """The KServe export could not be written (the message says why)."""


def service_name(name: str) -> str:
    """A registry name as a Kubernetes object name (DNS-1035 label): lower case, ``_`` and
    ``.`` as ``-``; a :class:`KServeExportError` names the rule when that is not enough."""
    label = name.lower().replace("_", "-").replace(".", "-")
    if len(label) > 63 or not _DNS_LABEL.match(label):
        raise KServeExportError(
            f"{name!r} cannot name an InferenceService ({label!r}); accepted: a DNS-1035 label "
            "of at most 63 characters, lower-case letters, digits and '-', starting with a "
            "letter and ending with a letter or digit (give one with --name)"
        )
    return label


def inference_service(
    name: str,
    storage_uri: str,
    *,
    annotations: dict[str, str] | None = None,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    memory: str = "1Gi",
) -> dict[str, Any]:
    """The ``InferenceService`` document: KServe's Triton runtime (``kserve-tritonserver``,
    model format ``triton``, Open Inference Protocol v2) on the model repository at
    ``storage_uri``."""
    predictor: dict[str, Any] = {"minReplicas": int(min_replicas)}
    if max_replicas is not None:
        predictor["maxReplicas"] = int(max_replicas)
    predictor["model"] = {
        "modelFormat": {"name": "triton"},
        "protocolVersion": "v2",
        "runtime": "kserve-tritonserver",
        "storageUri": storage_uri,
        "resources": {
            "requests": {"cpu": "1", "memory": memory},
            "limits": {"cpu": "2", "memory": memory},
        },
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "aimass-lab"},
            "annotations": dict(annotations or {}),
        },
        "spec": {"predictor": predictor},
    }


def export_kserve(
    model_version: Any,
    directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    storage_uri: str | None = None,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    max_batch_size: int = 32,
    max_delay_ms: float = 2.0,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> Path:
    """Write an ONNX model version as a KServe ``InferenceService`` and its model repository.

    ``DIRECTORY/inference-service.yaml`` (``kubectl apply -f`` it) and
    ``DIRECTORY/model-repository/NAME/...`` (the Triton layout of
    :func:`export_triton`: ``config.pbtxt``, ``VERSION/model.onnx``, ``labels.txt``), to be
    copied to ``storage_uri``. Clients call ``/v2/models/NAME/infer`` as on ``aimass
    serve``. ``DIRECTORY`` must not exist or be empty; it is written beside its place and
    renamed into it, so nothing half-written is ever seen.

    Parameters
    ----------
    model_version
        A :class:`~aimass_lab.registry.ModelVersion` or ref of a version with ``model.onnx``
        (an export of :func:`aimass_lab.export_onnx`).
    directory
        The folder to write.
    name
        The InferenceService's name (default: the registry name as a DNS-1035 label).
    storage_uri
        Where the model repository will be (default ``pvc://aimass-models/model-repository``):
        ``gs://``, ``s3://``, ``pvc://``, ``https://``, ``hdfs://``, ``oci://`` or ``hf://``.
    min_replicas, max_replicas
        The predictor's scaling bounds.
    max_batch_size, max_delay_ms
        Triton's dynamic batching.

    Returns
    -------
    Path
        ``DIRECTORY``.
    """
    import yaml

    from aimass_lab import registry

    ws = resolve_workspace(
        workspace if workspace is not None else getattr(model_version, "workspace", None)
    )
    mv = registry.get(model_version, workspace=ws)
    if ONNX_FILE not in mv.manifest:
        raise KServeExportError(
            f"{mv.ref} has no {ONNX_FILE}; KServe serves it with Triton, which takes ONNX: "
            f"export it first (aimass_lab.export_onnx('{mv.ref}') or aimass compress "
            f"{mv.ref} --method onnx) and export that version"
        )
    isvc = service_name(name or mv.name)
    uri = storage_uri or f"pvc://aimass-models/{REPOSITORY}"
    if not uri.startswith(STORAGE_SCHEMES):
        raise KServeExportError(
            f"storage URI {uri!r} is not one KServe downloads from; accepted: "
            + ", ".join(f"{s}..." for s in STORAGE_SCHEMES)
        )
    if not 0 <= int(min_replicas) <= (max_replicas if max_replicas is not None else 1 << 30):
        raise KServeExportError(
            f"min_replicas {min_replicas} / max_replicas {max_replicas}; accepted: "
            "0 <= min_replicas <= max_replicas"
        )
    target = Path(directory).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise KServeExportError(f"{target} exists and is not an empty folder; choose a new one")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        entry = export_triton(
            mv, tmp / REPOSITORY, max_batch_size=max_batch_size, max_delay_ms=max_delay_ms,
            workspace=ws,
        )  # fmt: skip
        size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
        doc = inference_service(
            isvc,
            uri,
            annotations={"aimass-lab/ref": mv.ref, "aimass-lab/sha256": _sha(mv)},
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            memory=f"{max(512, 4 * (size >> 20) + 256)}Mi",
        )
        (tmp / MANIFEST).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        if target.exists():
            target.rmdir()  # empty (checked above)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _sha(mv: Any) -> str:
    return str(mv.manifest[ONNX_FILE]["sha256"])
