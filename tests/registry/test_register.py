"""Registering versions from folders, jobs and runs; finding them again; bad input."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from registry_helpers import MODEL_SPEC, MakeJob, write_model_folder
from sqlalchemy import func, select

from aimass_lab import registry
from aimass_lab._io import sha256_file
from aimass_lab.errors import AimassError, JobError, NotFoundError
from aimass_lab.registry import ModelVersion
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import AliasRow, ModelVersionRow


def test_register_folder_records_everything(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(
        model_dir, "iris-mlp", description="first try", lineage={"notebook": "explore.ipynb"}
    )
    assert isinstance(mv, ModelVersion)
    assert (mv.name, mv.version, mv.ref) == ("iris-mlp", 1, "iris-mlp:1")
    assert mv.model_spec == MODEL_SPEC
    assert mv.hparams["lr"] == 0.01 and mv.hparams["hidden"] == 8
    assert mv.metrics == {"val_acc": 0.9}
    assert mv.data_fingerprint == "f" * 64
    assert mv.description == "first try"
    assert mv.parent is None and mv.aliases == [] and mv.run_id is None
    assert set(mv.manifest) == {"weights.safetensors", "model.json"}
    for filename, entry in mv.manifest.items():
        assert entry == {
            "sha256": sha256_file(model_dir / filename),
            "size": (model_dir / filename).stat().st_size,
        }
        assert workspace.artifacts.exists(entry["sha256"])
    assert mv.lineage == {
        "source": "folder",
        "folder": str(model_dir.resolve()),
        "run_id": None,
        "dataset": "iris",
        "data_fingerprint": "f" * 64,
        "notebook": "explore.ipynb",
    }
    assert (
        abs((dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - mv.created_at).total_seconds())
        < 60
    )
    assert mv.config["output_dim"] == 3
    # The registry does not depend on the source folder once registered.
    shutil.rmtree(model_dir)
    assert registry.verify("iris-mlp")["ok"] is True


def test_versions_count_per_name(workspace: Workspace, tmp_path: Path) -> None:
    a = write_model_folder(tmp_path / "a", seed=1)
    b = write_model_folder(tmp_path / "b", seed=2)
    assert [registry.register(a, "m").version for _ in range(3)] == [1, 2, 3]
    assert registry.register(b, "other").version == 1
    assert registry.register(str(b), "m").version == 4
    assert registry.names() == ["m", "other"]
    assert [mv.ref for mv in registry.list()] == ["m:4", "other:1", "m:3", "m:2", "m:1"]
    assert [mv.ref for mv in registry.list("m")] == ["m:4", "m:3", "m:2", "m:1"]
    # Identical files are stored once.
    assert registry.get("m:1").manifest == registry.get("m:3").manifest


def test_register_succeeded_job_and_run(workspace: Workspace, make_job: MakeJob) -> None:
    job_id = make_job(seed=3)
    mv = registry.register(job_id, "from-job")
    assert mv.run_id == job_id
    assert mv.lineage["source"] == "job" and mv.lineage["run_id"] == job_id
    # model.json metrics win; the job's recorded metrics fill in what it lacks.
    assert mv.metrics == {"val_acc": 0.93, "test_acc": 0.8}

    class Run:  # what aimass_lab.train returns: an object with an id and its workspace
        def __init__(self, run_id: str, ws: Workspace) -> None:
            self.id = run_id
            self.workspace = ws

    other = make_job(seed=4)
    mv2 = registry.register(Run(other, workspace), "from-job", aliases=["staging"], workspace=None)
    assert (mv2.version, mv2.run_id, mv2.aliases) == (2, other, ["staging"])


def test_register_with_parent_records_lineage(workspace: Workspace, model_dir: Path) -> None:
    base = registry.register(model_dir, "base")
    small = registry.register(
        model_dir, "base-small", parent="base:1", lineage={"compress": "int8"}
    )
    assert small.parent == "base:1"
    assert small.lineage["parent"] == "base:1" and small.lineage["compress"] == "int8"
    assert registry.get("base-small").parent == base.ref
    with pytest.raises(NotFoundError, match=r"model 'base' has no version 9; versions: 1"):
        registry.register(model_dir, "x", parent="base:9")
    assert "x" not in registry.names()


def test_get_ref_forms(workspace: Workspace, model_dir: Path) -> None:
    v1 = registry.register(model_dir, "m", aliases=["prod"])
    v2 = registry.register(model_dir, "m")
    assert registry.get("m") == v2
    assert registry.get("m:latest").ref == "m:2"
    assert registry.get("m:1") == v1
    assert registry.get("m:prod").ref == "m:1"
    assert registry.get(v1).aliases == ["prod"]
    assert registry.get("m:01").ref == "m:1"


def test_model_version_display_and_json(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(
        model_dir,
        "m",
        aliases=["prod"],
        description="<script>alert(1)</script>",
        lineage={"note": "a & b"},
    )
    data = mv.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["ref"] == "m:1" and data["created_at"].endswith("Z") and data["aliases"] == ["prod"]
    assert "workspace" not in data
    assert repr(mv) == "ModelVersion('m:1', aliases=['prod'], metrics={'val_acc': 0.9})"
    page = mv._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "m:1" in page and "val_acc=0.9" in page and "weights.safetensors" in page
    assert hash(mv) == hash(registry.get("m:1"))
    with pytest.raises(AttributeError):
        mv.version = 3  # type: ignore[misc]


# ------------------------------------------------------------------------------- bad input
def test_unknown_model_version_alias_list_what_exists(
    workspace: Workspace, model_dir: Path
) -> None:
    with pytest.raises(NotFoundError, match=r"no model named 'm'.*the registry is empty"):
        registry.get("m")
    registry.register(model_dir, "m", aliases=["prod"])
    registry.register(model_dir, "m")
    registry.register(model_dir, "other")
    with pytest.raises(NotFoundError, match=r"no model named 'nope' .*models: 'm', 'other'"):
        registry.get("nope:1")
    with pytest.raises(NotFoundError, match=r"no model named 'nope' .*models: 'm', 'other'"):
        registry.list("nope")
    with pytest.raises(NotFoundError, match=r"model 'm' has no version 7; versions: 1, 2"):
        registry.get("m:7")
    with pytest.raises(
        NotFoundError, match=r"model 'm' has no alias 'staging'; aliases: 'prod' \(-> m:1\)"
    ):
        registry.get("m:staging")
    with pytest.raises(
        NotFoundError, match=r"model 'other' has no alias 'prod'; it has no aliases"
    ):
        registry.get("other:prod")
    with pytest.raises(
        AimassError, match=r"malformed model ref 'm:1:2'; accepted: 'name', 'name:3'"
    ):
        registry.get("m:1:2")
    with pytest.raises(
        AimassError, match=r"a model ref must be a string or a ModelVersion, got int 3"
    ):
        registry.get(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["", "a b", "a/b", "x" * 101, "m:1", "naïve", ".", "..", "...", ".hidden"]
)
def test_bad_model_names(workspace: Workspace, model_dir: Path, name: str) -> None:
    with pytest.raises(
        AimassError,
        match=r"invalid model name .*; accepted: letters, digits, '-', '_' and '\.', 1 to 100 "
        r"characters, not starting with '\.'",
    ):
        registry.register(model_dir, name)
    assert registry.names() == []


def test_good_model_names(workspace: Workspace, model_dir: Path) -> None:
    for name in ("a", "digits-mlp_v2.1", "x" * 100, "a..", "_.", "-v1"):
        assert registry.register(model_dir, name).name == name


def test_refuses_jobs_that_did_not_succeed(workspace: Workspace, make_job: MakeJob) -> None:
    failed = make_job("failed", reason="ValueError: boom")
    with pytest.raises(
        JobError,
        match=rf"cannot register job {failed}: it is failed \(ValueError: boom\); only a succeeded job",
    ):
        registry.register(failed, "m")
    cancelled = make_job("cancelled", with_model=False)
    with pytest.raises(
        JobError, match=rf"cannot register job {cancelled}: it is cancelled; only a succeeded"
    ):
        registry.register(cancelled, "m")
    queued = workspace.jobs.create("train", {}).id
    with pytest.raises(
        JobError, match=rf"it is queued; wait for it with ws.jobs.wait\('{queued}'\)"
    ):
        registry.register(queued, "m")
    empty = make_job("succeeded", with_model=False)
    with pytest.raises(
        NotFoundError,
        match=rf"cannot register job {empty} \(kind 'train'\): it succeeded but left no model files; expected .*weights.safetensors",
    ):
        registry.register(empty, "m")
    with pytest.raises(
        NotFoundError,
        match=r"cannot register 'no-such-job': it is not a folder holding weights.safetensors and model.json, and no job 'no-such-job' in workspace .*; list them with: aimass jobs list",
    ):
        registry.register("no-such-job", "m")
    assert registry.names() == []
    with workspace.store.session() as s:
        assert s.scalar(select(func.count()).select_from(ModelVersionRow)) == 0


def test_refuses_bad_model_folders(workspace: Workspace, tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(NotFoundError, match=r"model folder '.*nowhere' does not exist"):
        registry.register(tmp_path / "nowhere", "m")
    (model_dir / "weights.safetensors").unlink()
    with pytest.raises(
        NotFoundError,
        match=r"has no weights.safetensors; a model folder holds weights.safetensors .* it has: 'model.json'",
    ):
        registry.register(model_dir, "m")
    good = write_model_folder(tmp_path / "good")
    config = json.loads((good / "model.json").read_text())
    (good / "model.json").write_text(json.dumps({**config, "input_shape": "4"}))
    with pytest.raises(
        AimassError, match=r"needs 'input_shape', a list of positive ints .*; got '4'"
    ):
        registry.register(good, "m")
    (good / "model.json").write_text(json.dumps({**config, "model_spec": {"family": "nope"}}))
    with pytest.raises(
        AimassError, match=r"(?s)has an invalid model_spec: .*unknown model 'nope'; accepted: 'mlp'"
    ):
        registry.register(good, "m")
    (good / "model.json").write_text("{not json")
    with pytest.raises(AimassError, match=r"model.json in folder .* is not valid JSON"):
        registry.register(good, "m")
    (good / "model.json").write_text(json.dumps(config))
    (good / "sub").mkdir()
    with pytest.raises(
        AimassError, match=r"holds a sub-folder 'sub'; a model version is a flat set of files"
    ):
        registry.register(good, "m")
    (good / "sub").rmdir()
    (good / ".model.json.tmp").write_text("ignored")
    assert set(registry.register(good, "m").manifest) == {"model.json", "weights.safetensors"}


def test_refuses_bad_arguments(workspace: Workspace, model_dir: Path) -> None:
    with pytest.raises(AimassError, match=r"cannot register a int: accepted sources are a run"):
        registry.register(42, "m")
    mv = registry.register(model_dir, "m")
    with pytest.raises(
        AimassError,
        match=r"not a ModelVersion \(m:1\); to copy a version .* export\(\) and import_\(\)",
    ):
        registry.register(mv, "n")
    with pytest.raises(AimassError, match=r"lineage must hold JSON values only"):
        registry.register(model_dir, "m", lineage={"when": object()})
    with pytest.raises(AimassError, match=r"lineage must be a dict, got list"):
        registry.register(model_dir, "m", lineage=["x"])  # type: ignore[arg-type]
    with pytest.raises(AimassError, match=r"invalid alias '3': an alias must not be all digits"):
        registry.register(model_dir, "m", aliases=["3"])
    assert [v.ref for v in registry.list()] == ["m:1"]
    with workspace.store.session() as s:
        assert s.scalar(select(func.count()).select_from(AliasRow)) == 0


def test_repr_rounds_metrics(workspace: Workspace, tmp_path: Path) -> None:
    folder = write_model_folder(
        tmp_path / "f", metrics={"test_acc": 0.8695651888847351, "epochs": 3}
    )
    mv = registry.register(folder, "m")
    assert repr(mv) == "ModelVersion('m:1', metrics={'test_acc': 0.8696, 'epochs': 3})"
    assert mv.metrics["test_acc"] == 0.8695651888847351
