"""Packaging checks: light imports, one version, constrained dependencies."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

#: Heavy packages that ``import aimass_lab`` and ``aimass --help`` must not import.
HEAVY = ("torch", "lightning", "optuna", "onnxruntime", "pandas", "sklearn")


def _imported_modules(importtime_output: str) -> set[str]:
    """Module names from ``python -X importtime`` output (its stderr)."""
    modules = set()
    for line in importtime_output.splitlines():
        match = re.match(r"import time:\s*\d+\s*\|\s*\d+\s*\|\s*(\S+)", line.strip())
        if match:
            modules.add(match.group(1))
    return modules


def _heavy_imports(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def test_importtime_parser_sees_modules() -> None:
    sample = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      3000 |      45000 |     torch.nn\n"
    )
    assert _imported_modules(sample) == {"_io", "torch.nn"}
    assert _heavy_imports({"_io", "torch.nn", "torchmetrics"}) == ["torch.nn"]


def test_import_aimass_lab_imports_no_heavy_package() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import aimass_lab"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    modules = _imported_modules(proc.stderr)
    assert "aimass_lab" in modules, "the importtime output was not parsed"
    heavy = _heavy_imports(modules)
    assert not heavy, f"`import aimass_lab` imports heavy modules (defer them): {heavy[:20]}"


def test_cli_help_imports_no_heavy_package() -> None:
    if importlib.util.find_spec("aimass_lab.cli") is None:
        pytest.skip("aimass_lab/cli.py does not exist yet")
    script = Path(sys.executable).parent / "aimass"
    if script.is_file():
        # The installed console script, exactly what a user runs.
        cmd = [str(script), "--help"]
    else:
        code = (
            "import sys; from aimass_lab.cli import main; sys.argv = ['aimass', '--help']; main()"
        )
        cmd = [sys.executable, "-c", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "usage" in proc.stdout.lower(), proc.stdout
    modules = _imported_modules(proc.stderr)
    assert "aimass_lab.cli" in modules, "the importtime output was not parsed"
    heavy = _heavy_imports(modules)
    assert not heavy, f"`aimass --help` imports heavy modules (defer them): {heavy[:20]}"


def test_version_matches_installed_metadata() -> None:
    text = (ROOT / "aimass_lab" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text)
    assert match, "aimass_lab/_version.py defines no __version__"
    installed = importlib.metadata.version("aimass-lab")
    assert installed == match.group(1), (
        f"aimass_lab/_version.py says {match.group(1)} but the installed aimass-lab is {installed}; "
        'reinstall with: pip install -c constraints.txt -e ".[dev]"'
    )
    import aimass_lab

    assert aimass_lab.__version__ == match.group(1)


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        pins[canonicalize_name(req.name)] = str(req.specifier)
    return pins


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_constraints_pin_cpu_friendly_torch() -> None:
    pins = _constraints()
    assert pins.get("torch") == "==2.13.0", (
        f"constraints.txt must pin torch==2.13.0 (an unpinned torch pulls a CUDA build), got {pins.get('torch')}"
    )
    loose = {name: spec for name, spec in pins.items() if not re.fullmatch(r"==[^,]+", spec)}
    assert not loose, f"constraints.txt should pin exact versions (name==version): {loose}"


@pytest.mark.parametrize("group", ["dependencies", "postgres", "dev"])
def test_dependencies_are_constrained(group: str) -> None:
    project = _pyproject()["project"]
    deps = (
        project["dependencies"]
        if group == "dependencies"
        else project["optional-dependencies"][group]
    )
    pins = _constraints()
    missing = []
    outside = []
    for dep in deps:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        if name not in pins:
            missing.append(req.name)
            continue
        pinned = pins[name].removeprefix("==")
        if req.specifier and not req.specifier.contains(pinned, prereleases=True):
            outside.append(
                f"{req.name}: pyproject wants {req.specifier}, constraints.txt pins {pinned}"
            )
    assert not missing, f"pyproject {group} missing from constraints.txt: {missing}"
    assert not outside, f"constraints.txt pins versions that pyproject excludes: {outside}"
