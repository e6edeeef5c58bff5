"""The examples of docs/serve.md run as written, and the errors shown are the real ones."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from common_helpers import aimass

DOCS = Path(__file__).resolve().parents[2] / "docs" / "serve.md"


@pytest.fixture
def stop_servers() -> Iterator[None]:
    yield
    from aimass_lab.workspace import Workspace

    ws = Workspace()  # the page's workspace: $AIMASS_HOME of this test
    for job in ws.jobs.list(kind="serve"):
        if job.active:
            ws.jobs.cancel(job.id)
            ws.jobs.wait(job.id, timeout=30)


def test_serve_page_examples_run(
    run_doc_page: Callable[..., tuple[int, str]],
    monkeypatch: pytest.MonkeyPatch,
    stop_servers: None,
) -> None:
    monkeypatch.setenv("AIMASS_EXAMPLE_EPOCHS", "3")
    _count, printed = run_doc_page("serve.md", min_blocks=8)
    page = DOCS.read_text(encoding="utf-8")
    shown = page.split("```text\ninvalid DeploySpec:", 1)[1].split("```", 1)[0]
    lines = ["invalid DeploySpec:"] + [line for line in shown.splitlines() if line.strip()]
    assert len(lines) >= 2, shown
    printed_lines = [line.strip() for line in printed.splitlines()]
    for line in lines:
        assert line.strip() in printed_lines, line
    # The CLI mistake shown on the page is the one the CLI prints, to the letter.
    cli = page.split("```text\n$ aimass deployments split digits 3=abc\n", 1)[1]
    shown_error = cli.split("\n", 1)[0]
    assert shown_error.startswith("error: bad split entry 3='abc'")
    proc = aimass(Path(os.environ["AIMASS_HOME"]), "deployments", "split", "digits", "3=abc")
    assert proc.returncode == 1 and proc.stderr.strip() == shown_error, proc.stderr
    assert "running {'2': 100}" in printed
    assert "['1', '2'] {'1': 100} {'2': 100}" in printed  # the hot swap
    assert "the weights sum to 110, not 100" in printed
    assert "'digits-mlp/config.pbtxt'" in printed
    assert "stopped None" in printed
    assert "alerts ['digits']" in printed  # the alerts watcher of "Alerts without a notebook"
