"""The examples of docs/search.md run as written, and the shown error is the real one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "search.md"


def test_search_page_examples_run(run_doc_page: Callable[..., tuple[int, str]]) -> None:
    count, printed = run_doc_page("search.md", min_blocks=2)
    assert count >= 2
    page = DOCS.read_text(encoding="utf-8")
    shown = page.split("```text\ninvalid SearchSpec:", 1)[1].split("```", 1)[0]
    for line in shown.strip().splitlines():
        assert line in printed, line
