"""The ``aimass`` command, run as a real process against a real workspace."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from common_helpers import aimass as run_aimass

#: ``aimass`` in a real process; a call must succeed unless it says ``check=False``.
aimass = partial(run_aimass, check=True)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = aimass(tmp_path, "--help").stdout
    for command in ("train", "jobs", "runs", "datasets", "models", "quickstart"):
        assert command in out
    assert "0.1.0" in aimass(tmp_path, "--version").stdout


def test_train_register_and_manage_models(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    doc = json.loads(
        aimass(
            ws,
            "train",
            "--data",
            "iris",
            "--model",
            "mlp",
            "--set",
            "hidden=32",
            "--set",
            "lr=0.01",
            "--epochs",
            "3",
            "--wait",
            "--json",
        ).stdout
    )
    assert doc["state"] == "succeeded" and doc["summary"]["val_acc"] > 0.3
    run_id = doc["id"]

    jobs = json.loads(aimass(ws, "jobs", "list", "--json").stdout)
    assert [j["id"] for j in jobs] == [run_id]
    assert json.loads(aimass(ws, "jobs", "show", run_id, "--json").stdout)["kind"] == "train"
    assert f"job {run_id} succeeded" in aimass(ws, "jobs", "logs", run_id).stdout
    runs = json.loads(aimass(ws, "runs", "list", "--json").stdout)
    assert runs[0]["id"] == run_id and runs[0]["model"] == "mlp"
    assert "tensorboard --logdir" in aimass(ws, "runs", "show", run_id).stdout

    assert (
        "registered iris-mlp:1 (prod)"
        in aimass(ws, "models", "register", run_id, "iris-mlp", "--alias", "prod").stdout
    )
    aimass(ws, "models", "register", run_id, "iris-mlp")
    versions = json.loads(aimass(ws, "models", "list", "--json").stdout)
    assert [v["ref"] for v in versions] == ["iris-mlp:2", "iris-mlp:1"]
    assert (
        "iris-mlp:prod -> iris-mlp:2" in aimass(ws, "models", "alias", "iris-mlp:2", "prod").stdout
    )
    assert (
        json.loads(aimass(ws, "models", "show", "iris-mlp:prod", "--json").stdout)["version"] == 2
    )
    assert "OK" in aimass(ws, "models", "verify", "iris-mlp:1").stdout

    archive = tmp_path / "iris.tar.gz"
    aimass(ws, "models", "export", "iris-mlp:1", str(archive))
    other = tmp_path / "other"
    imported = json.loads(aimass(other, "models", "import", str(archive), "--json").stdout)
    assert imported["ref"] == "iris-mlp:1"
    assert "OK" in aimass(other, "models", "verify", "iris-mlp:1").stdout
    aimass(ws, "models", "delete", "iris-mlp:1", "--yes")
    assert [v["ref"] for v in json.loads(aimass(ws, "models", "list", "--json").stdout)] == [
        "iris-mlp:2"
    ]


def test_datasets_commands(tmp_path: Path) -> None:
    items = json.loads(aimass(tmp_path, "datasets", "list", "--json").stdout)
    assert {"iris", "digits", "diabetes"} <= {d["name"] for d in items}
    shown = json.loads(aimass(tmp_path, "datasets", "show", "iris", "--json").stdout)
    assert shown["report"]["n_rows"] == 150
    csv = tmp_path / "people.csv"
    csv.write_text(
        "age,income,bought\n"
        + "\n".join(f"{20 + i % 40},{1000 + 37 * i},{i % 2}" for i in range(60))
    )
    assert (
        "registered"
        in aimass(
            tmp_path, "datasets", "add", "people", "--path", str(csv), "--target", "bought"
        ).stdout
    )
    assert "people" in {
        d["name"] for d in json.loads(aimass(tmp_path, "datasets", "list", "--json").stdout)
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--data", "mnist"), "error: unknown dataset 'mnist'"),
        (("train", "--data", "digits", "--set", "width=3"), "takes no hyperparameter 'width'"),
        (("train", "--data", "digits", "--epochs", "0"), "max_epochs: got 0"),
        (("train", "--data", "digits", "--set", "novalue"), "expected KEY=VALUE"),
        (("jobs", "show", "nope-nope"), "error: no job 'nope-nope'"),
        (("models", "show", "ghost:1"), "error: "),
        (
            ("datasets", "add", "x", "--path", "/nonexistent/data.csv", "--target", "y"),
            "CSV file not found",
        ),
    ],
)
def test_bad_input_gives_a_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = aimass(tmp_path, *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_config_file_with_flag_overrides(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "data: {name: wine}\nmodel: {family: mlp, hparams: {hidden: 16}}\nmax_epochs: 5\n"
    )
    doc = json.loads(
        aimass(
            tmp_path / "ws", "train", "--config", str(config), "--epochs", "2", "--wait", "--json"
        ).stdout
    )
    assert doc["state"] == "succeeded"
    assert doc["spec"]["max_epochs"] == 2 and doc["spec"]["model"]["hparams"] == {"hidden": 16}
