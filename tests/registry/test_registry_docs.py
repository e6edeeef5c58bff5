"""The examples of docs/registry.md run as written (blocks that need a training run are marked not run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def test_registry_page_examples_run(
    run_doc_page: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    run_doc_page("registry.md", min_blocks=6)
    assert (tmp_path / "iris-mlp-2.aimass.tar.gz").is_file()
