"""binder/ resolves: what it references exists, and what it installs is pinned and installable.

mybinder.org cannot be reached from the tests, so the install check is the honest offline one:
pip resolves the binder requirements (the project's dependencies standing for ``.``) against
constraints.txt with ``--no-index``, i.e. only from what the test venv holds; it fails if a
pin is missing, conflicts, or names a version the venv does not have.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in _lines(ROOT / "constraints.txt"):
        req = Requirement(line)
        pins[canonicalize_name(req.name)] = str(req.specifier)
    return pins


def _project_dependencies() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def test_requirements_reference_files_that_exist() -> None:
    lines = _lines(BINDER / "requirements.txt")
    constraints = [line.split(None, 1)[1] for line in lines if line.startswith("-c ")]
    assert constraints == ["../constraints.txt"]
    # pip reads -c/-r paths relative to the requirements file ...
    assert (BINDER / constraints[0]).resolve() == (ROOT / "constraints.txt").resolve()
    # ... and a bare local path relative to the working directory: repo2docker's is the repo root
    assert "." in lines and (ROOT / "pyproject.toml").is_file()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    others = [ln for ln in lines if not ln.startswith(("-c ", "--extra-index-url")) and ln != "."]
    assert others == [], f"binder installs the repository and nothing else: {others}"


def test_runtime_matches_the_project() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match, runtime
    with open(ROOT / "pyproject.toml", "rb") as fh:
        requires = SpecifierSet(tomllib.load(fh)["project"]["requires-python"])
    assert requires.contains(match.group(1) + ".0"), (runtime, str(requires))


def test_scripts_are_executable_bash() -> None:
    for name in ("postBuild", "start"):
        path = BINDER / name
        assert path.stat().st_mode & stat.S_IXUSR, f"binder/{name} must be executable"
        assert path.read_text().startswith("#!/bin/bash\n")
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert 'exec "$@"' in (BINDER / "start").read_text()


def test_start_sets_the_workspace(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AIMASS_HOME"}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [str(BINDER / "start"), "bash", "-c", 'echo "$AIMASS_HOME"'],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.stdout.strip() == str(tmp_path / "aimass-workspace")
    assert (tmp_path / "aimass-workspace").is_dir()


def test_every_dependency_is_pinned() -> None:
    pins = _pins()
    loose = [
        d for d in _project_dependencies() if canonicalize_name(Requirement(d).name) not in pins
    ]
    assert loose == [], (
        f"pin these in constraints.txt, or Binder installs whatever is newest: {loose}"
    )
    assert pins["torch"] == "==2.13.0"


def test_requirements_resolve_offline_against_the_constraints(tmp_path: Path) -> None:
    """pip resolves binder's requirements with the pins, from the test venv alone."""
    reqs = tmp_path / "requirements.txt"
    body = [
        ln
        for ln in _lines(BINDER / "requirements.txt")
        if ln != "." and not ln.startswith(("-c ", "--extra-index-url"))
    ]
    # "." is the project: its dependencies (building it would need the network for hatchling)
    body += [f"-c {ROOT / 'constraints.txt'}", *_project_dependencies()]
    reqs.write_text("\n".join(body) + "\n")
    env = {**os.environ, "PIP_CONSTRAINT": "", "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": ""}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--isolated",
            "--disable-pip-version-check",
            "-r",
            str(reqs),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Would install" not in proc.stdout, proc.stdout[-2000:]  # all pinned and present
