"""The "AI Mass (Python 3)" kernelspec and the ``%aimass`` magic (a real IPython shell and a
real kernel started from the installed kernelspec)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from common_helpers import aimass

from aimass_lab.workspace import set_current_workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def study(lab_study_ws: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the study workspace: what these tests count is theirs alone,
    whatever other tests did to the shared one."""
    dest = tmp_path / "study"
    shutil.copytree(lab_study_ws["path"], dest)
    return dest


@pytest.fixture
def shell(study: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real IPython shell with ``%load_ext aimass_lab`` run, on a copy of the study workspace."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("AIMASS_HOME", str(study))
    monkeypatch.setenv("AIMASS_LAB_BASE_URL", "/user/ada/")
    set_current_workspace(None)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aimass_lab")
    yield ip
    ip.run_line_magic("unload_ext", "aimass_lab")
    InteractiveShell.clear_instance()


def _usage_error(ip: Any, line: str) -> str:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError) as info:
        ip.run_line_magic("aimass", line)
    return str(info.value)


def test_status(shell: Any, study: Path) -> None:
    status = shell.run_line_magic("aimass", "status")
    text = repr(status)
    assert str(study) in text
    rows = {r[0]: r[1] for r in status.rows}
    assert rows["models"] == "2 (2 versions)"
    assert rows["studies"] == "1"
    assert rows["jobs"] == "succeeded 2"  # the search worker and its trial's run
    assert rows["deployments"] == "0 running"
    assert rows["store"].startswith("sqlite")
    assert "<table>" in status._repr_html_()


def test_jobs(shell: Any, lab_study_ws: dict[str, Any]) -> None:
    table = shell.run_line_magic("aimass", "jobs")
    assert table.columns == ["id", "kind", "name", "state", "progress", "duration"]
    assert {r[1] for r in table.rows} == {"search", "train"}
    only = shell.run_line_magic("aimass", "jobs --kind train -n 5")
    assert [r[0] for r in only.rows] == [lab_study_ws["run_id"]]
    assert only.rows[0][3] == "succeeded" and only.rows[0][4] == "100%"
    assert repr(shell.run_line_magic("aimass", "jobs --state running")).endswith("(none)")
    assert "unknown job state 'done'" in _usage_error(shell, "jobs --state done")


def test_jobs_name_column_of_an_unnamed_run(shell: Any, study: Path) -> None:
    """A training job started without a name shows what it trains and its short id (the
    name column was empty), the same in ``%aimass jobs`` and ``aimass jobs list``."""
    import aimass_lab as am

    run = am.train("iris", "mlp", max_epochs=1, workspace=study, launch=False)
    job = run.job
    assert job.name is None
    label = f"train mlp/iris #{job.id.rsplit('-', 1)[-1]}"
    table = shell.run_line_magic("aimass", "jobs --kind train --state queued")
    assert [(r[0], r[2]) for r in table.rows] == [(job.id, label)]
    out = aimass(study, "jobs", "list", "--state", "queued", check=True).stdout
    assert label in out
    assert json.loads(aimass(study, "jobs", "show", job.id, "--json").stdout)["label"] == label


def _cli_header(study: Path, *args: str) -> list[str]:
    """The column names of an ``aimass ... list`` table (its header line, lower case)."""
    out = aimass(study, *args, check=True).stdout
    return out.splitlines()[0].lower().split()


def test_lists_have_the_cli_columns(shell: Any, study: Path, lab_study_ws: dict[str, Any]) -> None:
    models = shell.run_line_magic("aimass", "models")
    assert models.columns == _cli_header(study, "models", "list")
    assert sorted(r[0] for r in models.rows) == ["iris-mlp:1", "iris-small:1"]
    only = shell.run_line_magic("aimass", "models iris-small")
    assert [r[0] for r in only.rows] == ["iris-small:1"]

    runs = shell.run_line_magic("aimass", "runs -n 5")
    assert runs.columns == _cli_header(study, "runs", "list")
    assert [r[0] for r in runs.rows] == [lab_study_ws["run_id"]]
    assert runs.rows[0][2] == "succeeded" and runs.rows[0][3] == "iris"

    data = shell.run_line_magic("aimass", "data")
    assert data.columns == _cli_header(study, "datasets", "list")
    assert "digits" in {r[0] for r in data.rows}

    deployments = shell.run_line_magic("aimass", "deployments --running")
    assert deployments.columns == ["name", "state", "model", "versions", "split", "url"]
    assert deployments.rows == [] and repr(deployments).endswith("(none)")
    assert "<table>" in models._repr_html_()


def test_tensorboard_link(shell: Any, lab_study_ws: dict[str, Any]) -> None:
    run_id = lab_study_ws["run_id"]
    link = shell.run_line_magic("aimass", f"tensorboard {run_id} --height 400")
    assert link.url == f"/user/ada/aimass-lab/tensorboard/{run_id}/"
    html = link._repr_html_()
    assert f"src='/user/ada/aimass-lab/tensorboard/{run_id}/'" in html and "height='400'" in html
    assert "no job 'nope'" in _usage_error(shell, "tensorboard nope")


def test_dashboard_link(shell: Any, lab_study_ws: dict[str, Any], study: Path) -> None:
    """``%aimass dashboard STUDY`` starts optuna-dashboard as a service and shows its link."""
    from aimass_lab.workspace import Workspace

    board = shell.run_line_magic("aimass", f"dashboard {lab_study_ws['study']} --idle-timeout 600")
    try:
        job = Workspace(study).jobs.get(board.job_id)
        assert (job.kind, job.state, job.spec["idle_timeout_s"]) == ("dashboard", "running", 600)
        assert f'href="{board.url}"' in board._repr_html_()
    finally:
        board.stop(Workspace(study))
    assert "no study 'nope' in the workspace" in _usage_error(shell, "dashboard nope")


def test_deploy_errors_are_messages(shell: Any) -> None:
    message = _usage_error(shell, "deploy nope:1")
    assert message.startswith("%aimass deploy:") and "nope" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "%aimass: no command; accepted: status, jobs, models, runs, deployments, data"),
        ("train digits", "%aimass: unknown command 'train'; accepted: status, jobs"),
        ("deploy", "%aimass deploy: the following arguments are required: ref"),
        ("jobs -n many", "%aimass jobs: argument -n/--limit: invalid int value: 'many'"),
        ("runs -n many", "%aimass runs: argument -n/--limit: invalid int value: 'many'"),
        ("models a b", "%aimass: unrecognized arguments: b"),
        ("jobs 'unclosed", "%aimass: No closing quotation"),
    ],
)
def test_bad_lines(shell: Any, line: str, message: str) -> None:
    text = _usage_error(shell, line)
    assert text.startswith(message), text
    assert "usage: %aimass status" in text


def test_kernelspec_is_shipped_and_installed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"kernels/aimass" = "share/jupyter/kernels/aimass"' in pyproject
    spec = json.loads((ROOT / "kernels" / "aimass" / "kernel.json").read_text())
    assert spec["display_name"] == "AI Mass (Python 3)" and spec["language"] == "python"
    assert spec["argv"][:5] == ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert "--IPKernelApp.extra_extensions=aimass_lab" in spec["argv"]
    for logo in ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg"):
        assert (ROOT / "kernels" / "aimass" / logo).stat().st_size > 100

    # the installed package put it where Jupyter looks (run: pip install -e . to refresh)
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    specs = json.loads(proc.stdout)["kernelspecs"]
    assert "aimass" in specs, proc.stdout + proc.stderr
    installed = specs["aimass"]
    assert installed["spec"]["display_name"] == "AI Mass (Python 3)"
    assert installed["spec"]["argv"] == spec["argv"]
    assert Path(installed["resource_dir"]).resolve().is_relative_to(Path(sys.prefix).resolve())


def test_the_kernel_loads_the_magic(
    lab_study_ws: dict[str, Any], study: Path, tmp_path: Path
) -> None:
    from jupyter_client.manager import start_new_kernel

    env_ws = str(study)
    km, kc = start_new_kernel(
        kernel_name="aimass", cwd=str(tmp_path), env={**_env(), "AIMASS_HOME": env_ws}
    )
    try:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", ""))
            elif msg["msg_type"] == "error":
                out.append(f"ERROR {content['ename']}: {content['evalue']}")

        reply = kc.execute_interactive("%aimass jobs --kind train", timeout=60, output_hook=hook)
        text = "".join(out)
        assert reply["content"]["status"] == "ok", text
        assert lab_study_ws["run_id"] in text and "succeeded" in text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
