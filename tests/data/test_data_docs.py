"""The examples of docs/data.md run as written."""

from __future__ import annotations

from collections.abc import Callable

from aimass_lab.data import unregister_source


def test_data_page_examples_run(run_doc_page: Callable[..., tuple[int, str]]) -> None:
    try:
        _, text = run_doc_page("data.md", min_blocks=12)
    finally:
        unregister_source("sine")
    assert "['day', 'night'] (3, 16, 16)" in text and "regression 100" in text
    assert "leakage - feature 'churn_flag'" in text
    assert "target - which column to predict?" in text and "columns: 'x1', 'x2', 'x3'" in text
    assert "\nlabel\n" in text
    assert "['churn', 'iris-seed3']" in text
    assert (
        "image 8 4\n['index', 'label', 'path', 'thumbnail']\ndata:image/png;base64,\nTrue" in text
    )
