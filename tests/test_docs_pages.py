"""The examples of docs/index.md, train.md, models.md and workspace.md run as written, and
print what their comments say."""

from __future__ import annotations

from collections.abc import Callable

RunPage = Callable[..., tuple[int, str]]


def test_index_page_example_runs(run_doc_page: RunPage) -> None:
    from aimass_lab import registry

    count, _ = run_doc_page("index.md")
    assert count == 1
    assert registry.get("digits-mlp:1").config["task"] == "classification"


def test_train_page_examples_run(run_doc_page: RunPage) -> None:
    count, printed = run_doc_page("train.md", min_blocks=4)
    # what the examples print, without the job log lines that wait=True shows as it waits
    lines = [line for line in printed.splitlines() if not line.startswith("[aimass]")]
    assert lines[0] in ("queued", "running"), printed
    assert "'val_acc':" in lines[1] and "'test_acc':" in lines[1]
    assert lines[2] == "digits-mlp:1 ['staging']"
    assert lines[3] == "succeeded True"  # your own module on iris
    assert lines[4:] == ["interrupted", "succeeded", "succeeded"]  # cancel, resume, DDP
    assert count == 5  # the 4-GPU example is marked not run


def test_workspace_page_examples_run(run_doc_page: RunPage) -> None:
    count, printed = run_doc_page("workspace.md", min_blocks=2)
    lines = printed.splitlines()
    assert count == 2  # the PostgreSQL example is marked not run
    assert lines[:2] == ["interrupted", "succeeded"]
    assert any("resuming from" in line for line in lines[2:]), printed


def test_models_page_example_runs(run_doc_page: RunPage) -> None:
    count, printed = run_doc_page("models.md")
    lines = [line for line in printed.splitlines() if not line.startswith("[aimass]")]
    assert count == 1  # the search example is marked not run
    assert lines == [
        "text",
        "succeeded ['adapter.safetensors', 'model.json', 'weights.safetensors']",
        "BertForSequenceClassification",
    ], printed
