"""Ensembles of registered versions: mean, vote, weighted and stack as one ONNX graph, checked
against the members with ONNX Runtime, registered with lineage to every member; bad input.

Two digits MLPs (different hidden sizes) are trained for real once per module and exported
to ONNX; every test registers its ensembles under its own name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compress_helpers import FAST_BENCH, train_digits

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.compress import ParityError
from aimass_lab.compress._onnx import run_onnx, session
from aimass_lab.errors import DataError, SpecError
from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two digits MLPs trained 1 epoch, each exported to ONNX (``dm:3`` and ``dm:4``), plus
    the torch-only ``dm:1``."""
    root: Path = tmp_path_factory.mktemp("ensemble")
    ws = Workspace(root / "ws")
    a = train_digits(
        ws, root / "a", name="dm", model={"family": "mlp", "hparams": {"hidden": 32}}, epochs=1
    )
    b = train_digits(
        ws,
        root / "b",
        name="dm",
        model={"family": "mlp", "hparams": {"hidden": 16, "layers": 1}},
        epochs=1,
        lr=1e-2,
    )
    ea, eb = am.export_onnx(a, workspace=ws), am.export_onnx(b, workspace=ws)
    dataset = am.datasets.load("digits", workspace=ws)
    return {"ws": ws, "torch": a, "a": ea, "b": eb, "data": dataset}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _expected_probs(method: str, outs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    probs = [_softmax(o.astype(np.float64)) for o in outs]
    if method == "vote":
        probs = [np.eye(p.shape[1])[p.argmax(1)] for p in probs]
    return np.asarray(sum(w * p for w, p in zip(weights, probs, strict=True)))


@pytest.mark.parametrize(
    ("method", "weights"), [("mean", None), ("weighted", [3.0, 1.0]), ("vote", None)]
)
def test_mean_weighted_vote_match_the_members(
    members: dict[str, Any], method: str, weights: list[float] | None
) -> None:
    ws, a, b = members["ws"], members["a"], members["b"]
    report = am.ensemble(
        [a.ref, b.ref],
        method=method,
        weights=weights,
        name=f"ens-{method}",
        workspace=ws,
        benchmark=FAST_BENCH,
    )
    assert [r["method"] for r in report.rows] == ["member", "member", f"ensemble:{method}"]
    assert [r["version"] for r in report.rows] == [a.ref, b.ref, f"ens-{method}:1"]
    mv = registry.get(f"ens-{method}:1", workspace=ws)
    assert mv.parent == a.ref and mv.members == [a.ref, b.ref]
    assert mv.to_dict()["members"] == [a.ref, b.ref]
    assert mv.lineage["source"] == "ensemble"
    norm = [0.75, 0.25] if weights else [0.5, 0.5]
    assert mv.lineage["ensemble"]["weights"] == norm
    assert set(mv.manifest) == {"model.json", "model.onnx", "weights.safetensors"}

    # the one ONNX graph computes what the members' ONNX files compute, combined
    x, y = members["data"].take("test", None)
    x = np.asarray(x, np.float32)
    outs = [run_onnx(session(m.files()["model.onnx"]), x) for m in (a, b)]
    got = run_onnx(session(mv.files()["model.onnx"]), x)
    expected = _expected_probs(method, outs, norm)
    np.testing.assert_allclose(_softmax(got.astype(np.float64)), expected, atol=1e-5)
    assert report.rows[-1]["accuracy"] == pytest.approx(float(np.mean(got.argmax(1) == y)))
    assert mv.config["onnx"]["parity"]["passed"] is True
    # the members' rows are measured the same way (their own ONNX files, the same test split)
    for row, out in zip(report.rows[:2], outs, strict=True):
        assert row["accuracy"] == pytest.approx(float(np.mean(out.argmax(1) == y)))
    ens_row = report.rows[-1]
    assert ens_row["params"] == report.rows[0]["params"] + report.rows[1]["params"]
    assert ens_row["size_bytes"] > max(r["size_bytes"] for r in report.rows[:2])
    assert ens_row["ort_cpu_p50_ms"] > 0

    # the torch form (model_spec + weights.safetensors) computes the same
    import torch

    net = mv.load_network()
    with torch.no_grad():
        torch_out = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_softmax(torch_out.astype(np.float64)), expected, atol=1e-5)


def test_stack_fits_a_meta_model_on_the_validation_split(members: dict[str, Any]) -> None:
    ws, a, b, dataset = members["ws"], members["a"], members["b"], members["data"]
    report = am.ensemble([a, b], "stack", name="ens-stack", workspace=ws, benchmark=FAST_BENCH)
    mv = report.versions[report.rows[-1]["version"]]
    meta = mv.lineage["ensemble"]["meta"]
    assert meta["model"] == "logistic-regression"
    assert meta["fitted_on"] == {"part": "val", "rows": dataset.sizes["val"]}

    # the meta-model refitted here on the same features gives the same logits as the graph
    from sklearn.linear_model import LogisticRegression

    def features(part: str) -> tuple[np.ndarray, np.ndarray]:
        x, y = dataset.take(part, None)
        x = np.asarray(x, np.float32)
        outs = [run_onnx(session(m.files()["model.onnx"]), x) for m in (a, b)]
        return np.concatenate([_softmax(o.astype(np.float64)) for o in outs], 1), np.asarray(y)

    fv, yv = features("val")
    clf = LogisticRegression(C=1.0, max_iter=2000).fit(fv, yv)
    ft, yt = features("test")
    x_test = np.asarray(dataset.take("test", None)[0], np.float32)
    got = run_onnx(session(mv.files()["model.onnx"]), x_test)
    np.testing.assert_allclose(got, clf.decision_function(ft), atol=1e-3)
    assert report.rows[-1]["accuracy"] == pytest.approx(float(np.mean(got.argmax(1) == yt)))


def test_stack_binary_classes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    data = {"name": "breast_cancer"}
    refs = []
    for i, hidden in enumerate((8, 16)):
        mv = train_digits(
            ws, tmp_path / f"m{i}", name="bc", model={"family": "mlp", "hparams": {"hidden": hidden}},
            epochs=1, data=data,
        )  # fmt: skip
        refs.append(am.export_onnx(mv, workspace=ws).ref)
    report = am.ensemble(refs, "stack", workspace=ws, benchmark=FAST_BENCH)
    mv = report.versions[report.rows[-1]["version"]]
    assert mv.name == "bc-ensemble" and mv.members == refs
    x, y = am.datasets.load(data, workspace=ws).take("test", None)
    out = run_onnx(session(mv.files()["model.onnx"]), np.asarray(x, np.float32))
    assert out.shape == (len(y), 2) and np.isfinite(out).all()
    assert report.rows[-1]["accuracy"] > 0.5


def test_lineage_graph_links_every_member(members: dict[str, Any]) -> None:
    from aimass_lab.lab._lineage import model_lineage

    ws, a, b = members["ws"], members["a"], members["b"]
    report = am.ensemble([a.ref, b.ref], name="ens-lineage", workspace=ws, benchmark=FAST_BENCH)
    ref = report.rows[-1]["version"]
    graph = model_lineage(ref, workspace=ws)
    edges = {(e["source"], e["target"], e["label"]) for e in graph["edges"]}
    assert (f"model:{a.ref}", f"model:{ref}", "ensemble") in edges
    assert (f"model:{b.ref}", f"model:{ref}", "ensemble") in edges
    assert ref in model_lineage(b.ref, workspace=ws)["children"]
    assert "members=" in repr(registry.get(ref, workspace=ws))


def _count(ws: Workspace) -> int:
    return len(registry.list(workspace=ws))


def test_bad_input_is_refused_and_nothing_is_registered(
    members: dict[str, Any], tmp_path: Path
) -> None:
    ws, a, b = members["ws"], members["a"], members["b"]
    registry.set_alias(a.ref, "ens-first", workspace=ws)
    before = _count(ws)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"members": [a.ref]}, SpecError, "at least 2 members"),
        ({"method": "median"}, SpecError, "accepted: 'mean', 'vote', 'weighted', 'stack'"),
        ({"method": "weighted"}, SpecError, "needs weights"),
        ({"method": "weighted", "weights": [1.0]}, SpecError, "one non-negative weight per member"),
        ({"method": "weighted", "weights": [1.0, -2.0]}, SpecError, "non-negative"),
        ({"method": "mean", "weights": [1.0, 2.0]}, SpecError, "weights apply to methods"),
        ({"members": [a.ref, "dm:ens-first"]}, DataError, "same version twice"),
        ({"members": [a.ref, "nope:1"]}, Exception, "nope"),
        ({"parity_atol": 1e-30}, ParityError, "nothing was registered"),
    ]
    for kwargs, error, text in cases:
        args = {"members": [a.ref, b.ref], "name": "ens-bad", "workspace": ws, **kwargs}
        with pytest.raises(error, match=None) as info:
            am.ensemble(args.pop("members"), **args)
        assert text in str(info.value), (kwargs, str(info.value))
    # stack without a validation split
    no_val = {"name": "digits", "split": {"val": 0.0, "test": 0.2}}
    with pytest.raises(DataError, match="validation split"):
        am.ensemble([a, b], "stack", data=no_val, name="ens-bad", workspace=ws)
    assert _count(ws) == before
    assert "ens-bad" not in registry.names(workspace=ws)


def test_members_of_different_tasks_classes_or_shapes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")

    def model(name: str, data: dict[str, Any]) -> str:
        mv = train_digits(
            ws, tmp_path / name, name=name, model={"family": "mlp", "hparams": {"hidden": 8}},
            epochs=1, data=data,
        )  # fmt: skip
        return am.export_onnx(mv, workspace=ws).ref

    iris = model("iris", {"name": "iris"})
    wine = model("wine", {"name": "wine"})
    diabetes = model("diabetes", {"name": "diabetes"})
    blobs2 = model("blobs2", {"name": "blobs", "options": {"n_features": 2}})
    blobs3 = model("blobs3", {"name": "blobs", "options": {"n_features": 3}})
    before = _count(ws)
    for refs, field in (
        ([iris, diabetes], "'task'"),
        ([iris, wine], "'classes'"),
        ([blobs2, blobs3], "'input_shape'"),
    ):
        with pytest.raises(DataError, match=field) as info:
            am.ensemble(refs, workspace=ws)
        assert "accepted: versions of the same task" in str(info.value)
        if field == "'classes'":  # the message docs/compress.md shows
            page = (Path(__file__).parents[2] / "docs" / "compress.md").read_text("utf-8")
            assert f"```text\n{info.value}\n```" in page
    diabetes_b = am.export_onnx("diabetes:1", workspace=ws).ref
    with pytest.raises(DataError, match="'mean' or 'weighted'"):
        am.ensemble([diabetes, diabetes_b], "vote", workspace=ws)
    assert _count(ws) == before + 1  # the second export only

    # regression members: the weighted mean of their outputs
    report = am.ensemble(
        [diabetes, diabetes_b], "weighted", weights=[1, 3], workspace=ws, benchmark=FAST_BENCH
    )
    assert report.metric == "rmse" and report.rows[-1]["rmse"] > 0
    mv = report.versions[report.rows[-1]["version"]]
    x = np.asarray(am.datasets.load("diabetes", workspace=ws).take("test", None)[0], np.float32)
    outs = [run_onnx(session(registry.get(r, workspace=ws).files()["model.onnx"]), x)
            for r in (diabetes, diabetes_b)]  # fmt: skip
    got = run_onnx(session(mv.files()["model.onnx"]), x)
    np.testing.assert_allclose(got, 0.25 * outs[0] + 0.75 * outs[1], atol=1e-5)


def test_a_torch_only_member_is_exported_on_the_way(members: dict[str, Any]) -> None:
    ws, torch_only, b = members["ws"], members["torch"], members["b"]
    files_before = set(torch_only.manifest)
    count = _count(ws)
    report = am.ensemble(
        [torch_only.ref, b.ref], name="ens-torch", workspace=ws, benchmark=FAST_BENCH
    )
    mv = report.versions[report.rows[-1]["version"]]
    assert mv.members == [torch_only.ref, b.ref]
    assert mv.lineage["ensemble"]["exported"] == [torch_only.ref]
    assert _count(ws) == count + 1  # the ensemble only: the export is not registered
    assert set(registry.get(torch_only.ref, workspace=ws).manifest) == files_before
    # the export made on the way computes what the registered export of the same weights does
    x, y = members["data"].take("test", None)
    x = np.asarray(x, np.float32)
    outs = [run_onnx(session(m.files()["model.onnx"]), x) for m in (members["a"], b)]
    got = run_onnx(session(mv.files()["model.onnx"]), x)
    expected = _expected_probs("mean", outs, [0.5, 0.5])
    np.testing.assert_allclose(_softmax(got.astype(np.float64)), expected, atol=1e-5)
    assert report.rows[0]["accuracy"] == pytest.approx(float(np.mean(outs[0].argmax(1) == y)))


def test_an_ensemble_of_ensembles(members: dict[str, Any]) -> None:
    ws, a, b = members["ws"], members["a"], members["b"]
    inner = am.ensemble([a, b], "vote", name="ens-inner", workspace=ws, benchmark=FAST_BENCH)
    inner_ref = inner.rows[-1]["version"]
    outer = am.ensemble([inner_ref, a.ref], name="ens-outer", workspace=ws, benchmark=FAST_BENCH)
    mv = outer.versions[outer.rows[-1]["version"]]
    x = np.asarray(members["data"].take("test", None)[0], np.float32)
    parts = [
        run_onnx(session(registry.get(r, workspace=ws).files()["model.onnx"]), x)
        for r in (inner_ref, a.ref)
    ]
    got = run_onnx(session(mv.files()["model.onnx"]), x)
    np.testing.assert_allclose(
        _softmax(got.astype(np.float64)), _expected_probs("mean", parts, [0.5, 0.5]), atol=1e-5
    )
    import torch

    with torch.no_grad():
        torch_out = mv.load_network()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_softmax(torch_out), _softmax(got), atol=1e-5)
