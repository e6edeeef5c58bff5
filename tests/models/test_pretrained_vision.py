"""timm and torchvision architectures with a local safetensors weight file (the [vision]
extra): tested where they import (a torchvision built for the installed torch)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from common_helpers import write_image_folder

import aimass_lab as am
from aimass_lab.errors import AimassError, SpecError
from aimass_lab.models import build_network, save_weights
from aimass_lab.specs import ModelSpec
from aimass_lab.workspace import Workspace


def _imports(name: str) -> bool:
    if importlib.util.find_spec(name) is None:
        return False
    try:
        __import__(name)
    except Exception:  # torchvision built for another torch raises RuntimeError at import
        return False
    return True


def test_architecture_spec_is_checked() -> None:
    with pytest.raises(
        SpecError, match=r"architecture.*accepted: 'timm:NAME' or 'torchvision:NAME'"
    ):
        ModelSpec(family="pretrained", architecture="keras:resnet", path="w.safetensors")
    with pytest.raises(SpecError, match="architecture"):
        ModelSpec(family="mlp", architecture="timm:resnet18")


@pytest.mark.skipif(_imports("timm"), reason="checks the message where timm does not import")
def test_a_clear_error_where_the_library_does_not_import(tmp_path: Path) -> None:
    spec = ModelSpec(family="pretrained", architecture="timm:resnet18", path=str(tmp_path))
    with pytest.raises(AimassError, match=r"needs timm, which does not import here.*\[vision\]"):
        build_network(spec, (3, 16, 16), 2, input_kind="image")


@pytest.mark.parametrize(
    ("library", "name"),
    [
        pytest.param("timm", "resnet18", marks=pytest.mark.skipif(not _imports("timm"), reason="timm does not import (docs/install.md)")),
        pytest.param("torchvision", "resnet18", marks=pytest.mark.skipif(not _imports("torchvision"), reason="torchvision does not import (docs/install.md)")),
    ],
)  # fmt: skip
def test_architecture_fine_tune_register_load(
    sqlite_workspace: Workspace, tmp_path: Path, library: str, name: str
) -> None:
    from aimass_lab.models import create_vision

    source = create_vision(library, name, 1000)
    weights = tmp_path / f"{name}.safetensors"
    save_weights(source.state_dict(), tmp_path, stem=name)
    spec = ModelSpec(
        family="pretrained",
        architecture=f"{library}:{name}",
        path=str(weights),
        hparams={"finetune": "head"},
    )
    net = build_network(spec, (3, 20, 20), 2, input_kind="image")
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"model.fc.weight", "model.fc.bias"}
    backbone = {k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}
    mine = {k.removeprefix("model."): v for k, v in net.state_dict().items()}
    assert all(torch.equal(mine[k], v) for k, v in backbone.items())

    data = {
        "source": "image_folder",
        "path": str(write_image_folder(tmp_path / "images", per_class=16, size=20)),
        "image_size": 20,
    }
    run = am.train(data, spec, max_epochs=1, batch_size=8, workspace=sqlite_workspace)
    run.wait(timeout=300)
    assert run.status == "succeeded", run.logs(tail=40)
    mv = run.register(f"{library}-{name}")
    assert mv.config["pretrained"]["library"] == library
    loaded = mv.load_network()
    x = torch.randn(2, 3, 20, 20)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), run.model()(x))
