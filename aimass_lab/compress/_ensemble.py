"""``aimass_lab.ensemble``: registered versions of one task combined into one new version.

The ensemble's ``model.onnx`` is one graph made of the members' ONNX graphs (their own
``model.onnx``, or for a torch-only version an export made on the way, parity-checked like
``aimass_lab.export_onnx``'s), checked against them with ONNX Runtime before anything is
registered. Its ``weights.safetensors`` holds every member's weights and its
``model_spec`` rebuilds the same ensemble in torch, so it is served like any version.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.compress._api import PARITY_ROWS, _load_data
from aimass_lab.compress._base import Candidate
from aimass_lab.compress._ensemble_onnx import combine_onnx, combine_outputs, member_outputs
from aimass_lab.compress._onnx import check_parity
from aimass_lab.compress._report import CompressionReport
from aimass_lab.compress._variants import (
    ONNX_FILE,
    baseline,
    export_checked,
    held_out_part,
    measure,
)
from aimass_lab.errors import DataError
from aimass_lab.specs import EnsembleSpec

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["ensemble"]

#: What the members of one ensemble must have in common (``model.json`` keys).
_SAME = ("task", "classes", "output_dim", "input_shape", "input_kind", "preprocess")
#: Keys of the first member's ``model.json`` that do not carry over to the ensemble.
_DROP = ("onnx", "metrics", "compression", "weight_files", "pretrained", "hparams", "run_id")


def ensemble(
    members: Any,
    method: str = "mean",
    *,
    weights: list[float] | None = None,
    name: str | None = None,
    data: Any = None,
    aliases: Any = (),
    description: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    **fields: Any,
) -> CompressionReport:
    """Combine registered versions of one task into one new registered version.

    Parameters
    ----------
    members
        Refs (``"digits-mlp:1"``) or ModelVersions of at least 2 versions with the same task,
        classes, input shape and preprocessing (a member without ``model.onnx`` is exported
        on the way, as :func:`aimass_lab.export_onnx` would; the export is not registered);
        or a whole
        :class:`~aimass_lab.specs.EnsembleSpec`.
    method
        ``"mean"`` (of the class probabilities), ``"vote"`` (majority of the predicted
        classes; ``weights`` count votes), ``"weighted"`` (mean with ``weights``) or
        ``"stack"`` (a logistic-regression meta-model fitted on the validation split's
        member probabilities).
    weights
        One non-negative weight per member, normalised to sum to 1.
    name
        Registry name of the ensemble (default: ``"<first member's name>-ensemble"``).
    data
        Data to fit (stack) and evaluate on: a name, DataSpec, dict or Dataset (default:
        the first member's, from its ``model.json``).
    aliases, description
        Given to the new version.
    workspace
        The workspace (default: the first member's, else the current one).
    **fields
        Other :class:`~aimass_lab.specs.EnsembleSpec` fields (``stack_c``,
        ``parity_atol``, ``benchmark``).

    Returns
    -------
    CompressionReport
        One row per member (``method`` ``"member"``), then the ensemble's row (``method``
        ``"ensemble:<method>"``, ``version`` its ref): test metric, size, latency.
        ``report.versions[report.rows[-1]["version"]]`` is the new version.

    Raises
    ------
    SpecError
        Fewer than 2 members, an unknown method, weights of the wrong length or negative.
    DataError
        Members of different tasks, classes, input shapes or preprocessing; ``vote`` or
        ``stack`` on regression models; ``stack`` on data without a validation split.
    ExportError, ParityError
        A member that cannot be exported to ONNX (the message names the layer), or a graph
        that does not compute what its members compute. Nothing is registered then.
    """
    if isinstance(members, EnsembleSpec):
        spec = members.model_copy(update=fields) if fields else members
    else:
        spec = EnsembleSpec(members=members, method=method, weights=weights, name=name, **fields)
    ws = _workspace(members, workspace)
    mvs = _members(spec, ws)
    configs = [mv.config for mv in mvs]
    _check_compatible(mvs, configs, spec.method)
    if data is None and spec.data is not None:
        data = spec.data
    dataset = _load_data(data, configs[0], mvs[0].ref, ws)
    spec = spec.model_copy(update={"data": dataset.spec, "members": [mv.ref for mv in mvs]})
    with tempfile.TemporaryDirectory(prefix="aimass-ensemble-") as tmp:
        return _build(spec, mvs, configs, dataset, ws, aliases, description, Path(tmp))


def _workspace(members: Any, workspace: Any) -> Workspace:
    from aimass_lab.workspace import Workspace, resolve_workspace

    if workspace is None and isinstance(members, list | tuple) and members:
        own = getattr(members[0], "workspace", None)
        if isinstance(own, Workspace):
            return own
    return resolve_workspace(workspace)


def _members(spec: EnsembleSpec, ws: Workspace) -> list[ModelVersion]:
    from aimass_lab import registry

    mvs = [registry.get(ref, ws) for ref in spec.members]
    refs = [mv.ref for mv in mvs]
    if len(set(refs)) != len(refs):
        raise DataError(
            f"the members {spec.members} name the same version twice ({refs}); accepted: "
            "distinct versions"
        )
    large = [mv.ref for mv in mvs if ONNX_FILE + ".data" in mv.manifest]
    if large:
        raise DataError(
            f"member(s) {', '.join(large)} keep their ONNX tensors in external data (over 2 "
            "GiB); accepted: members whose model.onnx holds its tensors"
        )
    return mvs


def _check_compatible(mvs: list[ModelVersion], configs: list[dict[str, Any]], method: str) -> None:
    first = configs[0]
    for mv, config in zip(mvs[1:], configs[1:], strict=True):
        for key in _SAME:
            if config.get(key) != first.get(key):
                shown = {
                    m.ref: (c.get(key) if key != "preprocess" else "(see its model.json)")
                    for m, c in ((mvs[0], first), (mv, config))
                }
                raise DataError(
                    f"members {mvs[0].ref} and {mv.ref} differ in {key!r}: {shown}; accepted: "
                    f"versions of the same task with the same {', '.join(_SAME)} (models "
                    "trained on the same data)"
                )
    task = first.get("task") or "classification"
    if task not in ("classification", "regression"):
        raise DataError(f"cannot ensemble {task!r} models; accepted: classification and regression")
    if task == "regression" and method in ("vote", "stack"):
        raise DataError(
            f"method {method!r} is for classification; {mvs[0].ref} is a regression model; "
            "accepted: 'mean' or 'weighted'"
        )


def _stack_meta(
    spec: EnsembleSpec, paths: list[Path], dataset: Any, n_classes: int, ref: str
) -> dict[str, Any]:
    """The stacking meta-model fitted on the validation split: logistic regression on the
    members' concatenated probabilities, as a ``coef`` (features x classes) and ``intercept``."""
    from sklearn.linear_model import LogisticRegression

    if not dataset.sizes.get("val"):
        raise DataError(
            f"method 'stack' fits its meta-model on the validation split, but the data of {ref} "
            f"({dataset.name!r}) has none ({dataset.sizes}); accepted: data split with a val "
            "part (e.g. split={'val': 0.2}), or method 'mean', 'vote' or 'weighted'"
        )
    x_val, y_val = dataset.take("val", None if dataset.in_memory else 10_000)
    outs = member_outputs(paths, np.asarray(x_val))
    feats = np.concatenate(
        [np.exp(combine_outputs([o], method="mean", weights=[1.0], task="c")) for o in outs], -1
    )
    y = np.asarray(y_val).astype(np.int64)
    present = np.unique(y)
    if len(present) < 2:
        raise DataError(
            f"method 'stack': the validation split of {ref} holds one class only "
            f"({present.tolist()}); accepted: a validation split with 2 or more classes"
        )
    clf = LogisticRegression(C=spec.stack_c, max_iter=2000).fit(feats, y)
    coef = np.zeros((feats.shape[1], n_classes))
    bias = np.full(n_classes, -30.0)  # classes absent from the validation split
    if len(clf.classes_) == 2:
        coef[:, clf.classes_[1]] = clf.coef_[0]
        bias[clf.classes_[0]], bias[clf.classes_[1]] = 0.0, clf.intercept_[0]
    else:
        for row, cls in enumerate(clf.classes_):
            coef[:, cls], bias[cls] = clf.coef_[row], clf.intercept_[row]
    return {
        "model": "logistic-regression",
        "C": spec.stack_c,
        "fitted_on": {"part": "val", "rows": len(y)},
        "val_accuracy": float(clf.score(feats, y)),
        "coef": coef.tolist(),
        "intercept": bias.tolist(),
    }


def _network(spec: EnsembleSpec, mvs: list[ModelVersion], hparams: dict[str, Any]) -> Any:
    """The torch ensemble holding every member's verified weights."""
    from aimass_lab.compress._ensemble_net import EnsembleNetwork

    network = EnsembleNetwork(**hparams)
    state = {
        f"members.{i}.{k}": v
        for i, mv in enumerate(mvs)
        for k, v in mv.load_network().state_dict().items()
    }
    network.load_state_dict(state, strict=True)
    return network.eval()


def _build(
    spec: EnsembleSpec,
    mvs: list[ModelVersion],
    configs: list[dict[str, Any]],
    dataset: Any,
    ws: Workspace,
    aliases: Any,
    description: str | None,
    tmp: Path,
) -> CompressionReport:
    from aimass_lab.compress._ensemble_net import TARGET, member_network_record

    first = configs[0]
    task = first.get("task") or "classification"
    n_classes = int(first["output_dim"])
    x_par = np.asarray(dataset.take(held_out_part(dataset, mvs[0].ref), PARITY_ROWS)[0])
    paths, exported = _member_onnx(mvs, tmp, x_par, spec)
    weights = spec.normalised_weights()
    meta = (
        _stack_meta(spec, paths, dataset, n_classes, mvs[0].ref) if spec.method == "stack" else None
    )
    hparams = {
        "members": [member_network_record(c) for c in configs],
        "method": spec.method,
        "weights": weights,
        "task": task,
        "meta": {k: meta[k] for k in ("coef", "intercept")} if meta else None,
    }
    network = _network(spec, mvs, hparams)
    record = {**spec.to_lineage(), "members": [mv.ref for mv in mvs]}
    if meta:
        record["meta"] = {k: v for k, v in meta.items() if k not in ("coef", "intercept")}
    if exported:
        record["exported"] = exported
    folder = tmp / "model"
    onnx_path = folder / ONNX_FILE
    kw: dict[str, Any] = {"method": spec.method, "weights": weights, "task": task}
    info = combine_onnx(paths, onnx_path, n_classes=n_classes, meta=meta, **kw)
    reference = combine_outputs(member_outputs(paths, x_par), meta=meta, **kw)
    info["parity"] = check_parity(
        reference,
        onnx_path,
        x_par,
        atol=spec.parity_atol,
        min_agreement=1.0,
        task=task,
        what=f"the ensemble of {', '.join(mv.ref for mv in mvs)} (against its members' "
        "ONNX outputs combined)",
    )
    config = {k: v for k, v in first.items() if k not in _DROP}
    config.update(
        model_spec={"family": "custom", "target": TARGET, "hparams": hparams},
        hparams={"method": spec.method, "members": record["members"], "weights": weights},
        ensemble=record,
    )
    rows, versions = _member_rows(mvs, configs, paths, dataset, spec)
    candidate = Candidate(network, config, spec.label())
    row = measure(candidate, onnx_path, dataset, spec.benchmark, info["parity"])
    rows.append({"method": spec.label(), "version": None, "parent": mvs[0].ref, **row})
    mv = _register(spec, mvs[0], candidate, folder, info, row, ws, aliases, description)
    rows[-1]["version"] = mv.ref
    versions[mv.ref] = mv
    metric = "rmse" if task == "regression" else "accuracy"
    return CompressionReport(rows, versions, metric, spec=spec.to_dict())


def _member_onnx(
    mvs: list[ModelVersion], tmp: Path, x_par: np.ndarray, spec: EnsembleSpec
) -> tuple[list[Path], list[str]]:
    """Each member's ONNX file: its own ``model.onnx``, or (a torch-only version) an export
    made here from its weights and parity-checked like :func:`aimass_lab.export_onnx`'s."""
    from aimass_lab.specs import CompressSpec

    check = CompressSpec(methods=["prune:0.5"], parity_atol=spec.parity_atol)  # tolerances only
    paths: list[Path] = []
    exported: list[str] = []
    for i, mv in enumerate(mvs):
        if ONNX_FILE in mv.manifest:
            paths.append(mv.files()[ONNX_FILE])
            continue
        what = f"the export of member {mv.ref}"
        path, _ = export_checked(baseline(mv), tmp / f"member-{i}", x_par, check, what)
        paths.append(path)
        exported.append(mv.ref)
    return paths, exported


def _member_rows(
    mvs: list[ModelVersion],
    configs: list[dict[str, Any]],
    paths: list[Path],
    dataset: Any,
    spec: EnsembleSpec,
) -> tuple[list[dict[str, Any]], dict[str, ModelVersion]]:
    """Each member measured as the compress report measures a model."""
    rows = []
    for mv, config, path in zip(mvs, configs, paths, strict=True):
        candidate = Candidate(mv.load_network(), config, "member")
        measured = measure(candidate, path, dataset, spec.benchmark, {})
        rows.append({"method": "member", "version": mv.ref, "parent": mv.parent, **measured})
    return rows, {mv.ref: mv for mv in mvs}


def _register(
    spec: EnsembleSpec,
    first: ModelVersion,
    candidate: Candidate,
    folder: Path,
    info: dict[str, Any],
    row: dict[str, Any],
    ws: Workspace,
    aliases: Any,
    description: str | None,
) -> ModelVersion:
    """Write the weights and ``model.json`` beside ``model.onnx`` and register them at once."""
    from aimass_lab import registry
    from aimass_lab.models import save_weights

    save_weights(candidate.network.state_dict(), folder)
    config = candidate.config
    metric = "rmse" if config.get("task") == "regression" else "accuracy"
    keys = (metric, "size_bytes", "params", "ort_cpu_p50_ms", "ort_cpu_throughput")
    config["metrics"] = {(f"test_{k}" if k == metric else k): row[k] for k in keys if k in row}
    config["onnx"], config["run_id"] = info, None
    (folder / "model.json").write_text(json.dumps(config, default=str), encoding="utf-8")
    refs = config["ensemble"]["members"]
    return registry.register(
        folder,
        spec.name or f"{first.name}-ensemble",
        aliases=aliases,
        parent=first,
        lineage={
            "source": "ensemble",
            "folder": None,
            "members": refs,
            "ensemble": config["ensemble"],
            "export": {k: v for k, v in info.items() if k != "parity"},
        },
        description=description or f"{spec.label()} of {', '.join(refs)}",
        workspace=ws,
    )
