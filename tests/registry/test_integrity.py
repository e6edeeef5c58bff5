"""Integrity: every file is checked against its sha256 before it is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from registry_helpers import INPUT_SHAPE, write_model_folder
from safetensors.torch import load_file, save_file

from aimass_lab import registry
from aimass_lab._io import sha256_file
from aimass_lab.errors import AimassError, IntegrityError
from aimass_lab.workspace import Workspace


def _flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_verify_and_files(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(model_dir, "m")
    report = registry.verify("m")
    assert report["ok"] is True and report["ref"] == "m:1"
    assert set(report["files"]) == {"weights.safetensors", "model.json"}
    files = mv.files()
    for name, path in files.items():
        assert sha256_file(path) == mv.manifest[name]["sha256"] == report["files"][name]["sha256"]
        assert path.read_bytes() == (model_dir / name).read_bytes()
    assert mv.config["model_spec"] == mv.model_spec
    assert mv.verify() == report


def test_load_network_is_the_registered_network(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(model_dir, "m")
    network = registry.get("m:1").load_network()
    assert not network.training
    expected = load_file(str(model_dir / "weights.safetensors"))
    got = network.state_dict()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert torch.equal(got[key], value)
    out = network(torch.zeros(2, *INPUT_SHAPE))
    assert out.shape == (2, mv.config["output_dim"])


def test_load_network_refuses_weights_that_do_not_fit(workspace: Workspace, tmp_path: Path) -> None:
    folder = write_model_folder(tmp_path / "bad")
    save_file({"something.else": torch.zeros(3)}, str(folder / "weights.safetensors"))
    mv = registry.register(folder, "m")
    with pytest.raises(
        AimassError,
        match=r"the weights of model m:1 do not fit the network built from its model.json \(family 'mlp', input_shape \[4\], output_dim 3\)",
    ):
        mv.load_network()


def test_tampered_artifact_is_refused(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(model_dir, "m")
    expected = mv.manifest["weights.safetensors"]["sha256"]
    stored = workspace.artifacts.path(expected)
    _flip_byte(stored)
    actual = sha256_file(stored)
    message = (
        rf"file 'weights.safetensors' of model m:1 was modified or corrupted: sha256 is {actual}, "
        rf"the manifest says {expected}; refusing to load it"
    )
    with pytest.raises(IntegrityError, match=message):
        registry.verify("m:1")
    with pytest.raises(IntegrityError, match=message):
        mv.files()
    with pytest.raises(IntegrityError, match=message):
        mv.load_network()
    # model.json is intact, so the config still reads.
    assert mv.config["output_dim"] == 3


def test_missing_artifact_is_refused(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(model_dir, "m")
    for name in ("model.json", "weights.safetensors"):
        workspace.artifacts.path(mv.manifest[name]["sha256"]).unlink()
    with pytest.raises(
        IntegrityError,
        match=r"2 files of model m:1 failed verification:\n- file 'model.json' of model m:1 is missing from the workspace \(expected .*\)\n- file 'weights.safetensors' of model m:1 is missing",
    ):
        registry.verify("m")
    with pytest.raises(
        IntegrityError, match=r"file 'model.json' of model m:1 is missing from the workspace"
    ):
        _ = mv.config
    # Registering the same files again brings them back.
    registry.register(model_dir, "m")
    assert registry.verify("m:1")["ok"]


def _custom_folder(folder: Path, target: str, hparams: dict[str, object]) -> Path:
    folder = write_model_folder(folder)
    save_file(torch.nn.Linear(4, 3).state_dict(), str(folder / "weights.safetensors"))
    config = json.loads((folder / "model.json").read_text())
    config["model_spec"] = {"family": "custom", "target": target, "hparams": hparams}
    (folder / "model.json").write_text(json.dumps(config))
    return folder


def test_custom_targets_must_be_modules(workspace: Workspace, tmp_path: Path) -> None:
    good = _custom_folder(
        tmp_path / "good", "torch.nn:Linear", {"in_features": 4, "out_features": 3}
    )
    network = registry.register(good, "linear").load_network()
    assert isinstance(network, torch.nn.Linear)
    marker = tmp_path / "owned"
    evil = _custom_folder(tmp_path / "evil", "os:system", {"command": f"touch {marker}"})
    mv = registry.register(evil, "evil")
    with pytest.raises(
        AimassError,
        match=r"cannot build the network of model evil:1: custom model 'os:system' is not a torch.nn.Module subclass",
    ):
        mv.load_network()
    assert not marker.exists()
    missing = registry.register(
        _custom_folder(tmp_path / "missing", "no_such_pkg.x:Net", {}), "missing"
    )
    with pytest.raises(
        AimassError,
        match=r"cannot build the network of model missing:1: cannot import custom model 'no_such_pkg.x:Net'",
    ):
        missing.load_network()
