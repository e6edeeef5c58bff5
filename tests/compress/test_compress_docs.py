"""The examples of docs/compress.md run as written, and the shown error is the real one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compress.md"


def test_compress_page_examples_run(
    run_doc_page: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMASS_EXAMPLE_EPOCHS", "3")
    count, printed = run_doc_page("compress.md", min_blocks=6)
    assert count >= 6
    page = DOCS.read_text(encoding="utf-8")
    shown = page.split("```text\ninvalid CompressSpec:", 1)[1].split("```", 1)[0]
    lines = ["invalid CompressSpec:"] + [line for line in shown.splitlines() if line.strip()]
    assert len(lines) >= 2, shown
    printed_lines = [line.strip() for line in printed.splitlines()]
    for line in lines:
        assert line.strip() in printed_lines, line
    assert "prune:structured:0.5" in printed and "17 ['model.json', 'model.onnx'" in printed
    # Structured pruning of the CNN, and the background job.
    assert (
        "{'channels': 8, 'layers': 2, 'kernel_size': 3, 'hidden': 32, 'dropout': 0.0}" in printed
        or ("'channels': 8" in printed and "'features.0': [16, 8]" in printed)
    )
    assert "succeeded 1.0 ['baseline', 'quantize:int8-dynamic']" in printed.splitlines()
    # Ensembles: one version with lineage to both members; stacking fitted on the val split.
    assert "digits-ens:1 digits-member:1 ['digits-member:1', 'digits-member:3']" in printed
    assert "val" in printed.splitlines()
    # CPU features: quantised for AVX2 (7-bit weights), whatever CPU runs the docs.
    assert printed.splitlines().count("avx2 True") == 2  # the report row, the version
