"""The examples of docs/registry.md run as written.

Every ```python block runs, in order, in one namespace, in a fresh folder; a block right
after an ``<!-- not run: ... -->`` comment is skipped (it needs a training run).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "registry.md"
BLOCK = re.compile(r"(<!-- not run:[^>]*-->\s*)?```python\n(.*?)```", re.S)


def test_registry_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [(bool(skip), code) for skip, code in BLOCK.findall(PAGE.read_text(encoding="utf-8"))]
    assert sum(not skip for skip, _ in blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_registry"}
    for i, (skip, code) in enumerate(blocks):
        if skip:
            continue
        exec(compile(code, f"{PAGE.name}[block {i}]", "exec"), namespace)
    assert (tmp_path / "iris-mlp-2.aimass.tar.gz").is_file()
