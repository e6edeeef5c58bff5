"""The examples of docs/data.md run as written.

Every ```python block runs, in order, in one namespace, in a fresh folder; a block right
after an ``<!-- not run: ... -->`` comment is skipped.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from aimass_lab.data import unregister_source

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data.md"
BLOCK = re.compile(r"(<!-- not run:[^>]*-->\s*)?```python\n(.*?)```", re.S)


def test_data_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [(bool(skip), code) for skip, code in BLOCK.findall(PAGE.read_text(encoding="utf-8"))]
    assert sum(not skip for skip, _ in blocks) >= 12
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_data"}
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            for i, (skip, code) in enumerate(blocks):
                if not skip:
                    exec(compile(code, f"{PAGE.name}[block {i}]", "exec"), namespace)
    finally:
        unregister_source("sine")
    text = out.getvalue()
    assert "['day', 'night'] (3, 16, 16)" in text and "regression 100" in text
    assert "leakage - feature 'churn_flag'" in text
    assert "['churn', 'iris-seed3']" in text
