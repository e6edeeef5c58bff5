"""The user docs build strictly (broken links, missing pages and bad anchors fail)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path: Path) -> None:
    config = ROOT / "mkdocs.yml"
    if not config.is_file():
        pytest.skip("no mkdocs.yml")
    pytest.importorskip(
        "mkdocs", reason='mkdocs is a [dev] extra: pip install -c constraints.txt -e ".[dev]"'
    )
    site = tmp_path / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(config),
            "--site-dir",
            str(site),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (site / "index.html").is_file()
