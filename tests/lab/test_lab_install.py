"""The server extension is enabled by the shipped config file, not by asking users."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_server_extension_is_enabled_and_ok() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert re.search(r"aimass_lab\s+enabled", text), text
    assert re.search(r"aimass_lab 0\.1\.0\s+OK", text), text


def test_config_file_is_shipped_as_shared_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert (
        '"jupyter-config/server-config/aimass_lab.json" = "etc/jupyter/jupyter_server_config.d/aimass_lab.json"'
        in pyproject
    )
    assert (
        '"aimass_lab": true' in (ROOT / "jupyter-config/server-config/aimass_lab.json").read_text()
    )
