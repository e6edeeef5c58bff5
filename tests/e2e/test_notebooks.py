"""The example notebooks run in order, top to bottom, in one workspace, and clean up.

A workshop hands out the examples to run one after the other in the same folder, so the
suite runs them exactly so: one workspace and one working folder for all of them. Each
notebook must not depend on version numbers (an earlier notebook registered versions of
the same names) and must stop what it starts (a server left running is a defect).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.ipynb"))


def _run(path: Path, folder: Path) -> list[str]:
    """Execute one notebook with ``folder`` as its working folder; its errors, as text."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,  # collect the errors, so that the message names the cell
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return [
        f"{path.name} cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]


@pytest.mark.slow
def test_examples_run_in_order_in_one_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aimass_lab as am

    assert [p.name[:2] for p in EXAMPLES] == [f"{i:02d}" for i in range(1, len(EXAMPLES) + 1)]
    monkeypatch.setenv("AIMASS_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("AIMASS_EXAMPLE_EPOCHS", "3")
    for path in EXAMPLES:
        errors = _run(path, tmp_path)
        assert not errors, "\n".join(errors)
        ws = am.Workspace(tmp_path / "ws")
        left = [f"{j.kind} {j.name} ({j.state})" for j in ws.jobs.list() if j.active]
        assert not left, f"{path.name} left jobs running: {left}"
    # Every notebook's work is in the one workspace: the models of all of them.
    names = set(am.registry.names(workspace=ws))
    expected = {"digits-mlp", "iris-search", "iris-mlp", "reviews-sentiment", "reviews-bert"}
    assert expected <= names, names
