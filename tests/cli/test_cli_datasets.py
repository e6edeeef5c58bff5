"""``aimass datasets samples``, progress of long data passes, and bad input from the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from common_helpers import aimass, write_bad_data, write_image_folder, write_scale_data

#: A source whose load reports progress (a stand-in for a long file scan).
_COUNTED = """
from aimass_lab.data import RawData, Source
from aimass_lab.data._progress import progress


class Counted(Source):
    name = "counted"

    def load(self, spec, workspace):
        rows = [i for i in progress(range(40), 40, "scan counted rows", unit="row")]
        return RawData([[float(i)] for i in rows], [i % 2 for i in rows])
"""


def test_samples_prints_a_page_of_images_and_of_a_table(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    root = write_image_folder(tmp_path / "pets", per_class=8)
    aimass(
        ws, "datasets", "add", "pets", "--source", "image_folder", "--path", str(root), check=True
    )
    out = aimass(ws, "datasets", "samples", "pets", "--limit", "3", check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("pets train: rows 1 to 3 of ") and "(image)" in lines[0]
    assert lines[1].split() == ["INDEX", "LABEL", "PATH"]
    assert len(lines) == 5 and all(line.split()[1] in ("cat", "dog") for line in lines[2:])
    page = json.loads(
        aimass(ws, "datasets", "samples", "pets", "--part", "test", "--json", check=True).stdout
    )
    assert page["part"] == "test" and page["kind"] == "image"
    assert page["rows"][0]["thumbnail"].startswith("data:image/png;base64,")

    out = aimass(ws, "datasets", "samples", "iris", "--start", "2", "--limit", "2", check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "iris train: rows 3 to 4 of 104 (tabular)"
    assert "SEPAL LENGTH (CM)" in lines[1] and len(lines) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--limit", "101"), "Invalid value for '--limit'"),
        (("--part", "training"), "Invalid value for '--part'"),
        (("--start", "999"), "error: start=999 is out of range for part 'train'"),
    ],
)
def test_samples_refuses_bad_pages(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = aimass(tmp_path, "datasets", "samples", "iris", *args)
    assert proc.returncode in (1, 2) and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_data_gives_one_clear_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    empty = write_image_folder(tmp_path / "empty")
    (empty / "bird").mkdir()
    broken = write_image_folder(tmp_path / "broken")
    (broken / "dog" / "bad.png").write_bytes(b"not a png")
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": np.arange(20), "cost": np.arange(20.0)}).to_csv(csv, index=False)
    cases = [
        (("--source", "image_folder", "--path", str(empty)), "class folder(s) 'bird'"),
        (("--source", "image_folder", "--path", str(broken)), "bad.png"),
        (("--path", str(csv), "--target", "price"), "target column 'price' not found"),
        (
            (
                "--path",
                str(csv),
            ),
            "columns: 'a', 'cost'. Choose it with target='<column>'",
        ),
    ]
    for args, message in cases:
        proc = aimass(ws, "datasets", "add", "bad", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "case",
    [
        "missing text column",
        "tokenizer folder not found",
        "tokenizer folder without tokenizer.json",
        "text not UTF-8",
        "Parquet parts with different schemas",
    ],
)
def test_bad_large_data_and_text_give_one_clear_line(tmp_path: Path, case: str) -> None:
    """Registered while fine, broken after: ``add`` (again), ``show`` and ``samples`` each
    give one line naming what is wrong."""
    from aimass_lab import data
    from aimass_lab.workspace import Workspace

    ws = tmp_path / "ws"
    bad = write_bad_data(tmp_path / "data")[case]
    data.add("bad", bad.spec, workspace=Workspace(ws))
    bad.spoil()
    config = tmp_path / "spec.json"
    config.write_text(json.dumps(bad.spec))
    for args in (("add", "again", "--config", str(config)), ("show", "bad"), ("samples", "bad")):
        proc = aimass(ws, "datasets", *args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and bad.message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize(
    ("kind", "header", "column"),
    [
        ("streamed table", "big train: rows 1 to 4 of 28 (tabular)", "COLOR"),
        ("text", "big train: rows 1 to 4 of 42 (text)", "TEXT"),
    ],
)
def test_samples_prints_a_page_of_a_streamed_table_and_of_text(
    tmp_path: Path, kind: str, header: str, column: str
) -> None:
    from aimass_lab import data
    from aimass_lab.workspace import Workspace

    ws = tmp_path / "ws"
    dataset = data.add("big", write_scale_data(tmp_path / "data")[kind], workspace=Workspace(ws))
    out = aimass(ws, "datasets", "samples", "big", "--limit", "4", check=True).stdout
    lines = [line for line in out.splitlines() if not line.startswith("[aimass] ")]  # progress
    assert lines[0] == header and column in lines[1].split() and len(lines) == 6
    rows = dataset.preview("train", 0, 4)["rows"]
    for line, row in zip(lines[2:], rows, strict=True):
        assert line.split()[:2] == [str(row["index"]), str(row["label"])]
        assert (row["values"]["color"] if kind != "text" else row["text"].split()[0]) in line
    page = json.loads(aimass(ws, "datasets", "samples", "big", "--json", check=True).stdout)
    assert page["rows"] == json.loads(json.dumps(dataset.preview("train")["rows"]))


def _run_with_counted_source(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``aimass ARGS`` in a real process (stdout is a pipe, not a terminal) that knows the
    ``counted`` source."""
    (tmp_path / "counted_source.py").write_text(_COUNTED)
    code = textwrap.dedent(
        f"""
        import sys
        from aimass_lab.data import register_source
        register_source("counted", "counted_source:Counted")
        from aimass_lab.cli import main
        sys.exit(main({list(args)!r}))
        """
    )
    env = {
        **os.environ,
        "AIMASS_HOME": str(tmp_path / "ws"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("AIMASS_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_long_passes_stream_plain_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    proc = _run_with_counted_source(tmp_path, "datasets", "add", "c", "--source", "counted")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "[aimass] scan counted rows: 0/40 (0%)", lines
    assert "[aimass] scan counted rows: 40/40 (100%)" in lines
    assert lines[-1].startswith("dataset 'c' registered")
    # --json keeps stdout one JSON document
    proc = _run_with_counted_source(tmp_path, "datasets", "show", "c", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["info"]["name"] == "c"


def test_job_processes_report_progress_as_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import aimass_lab.runjob as runjob
    from aimass_lab.data import _progress

    monkeypatch.setattr(_progress, "_MODE", ["off"])
    monkeypatch.setattr(runjob, "run_job_process", lambda: 0)
    assert runjob.main() == 0
    assert _progress.progress_mode() == "lines"


def test_add_takes_the_large_data_flags(tmp_path: Path) -> None:
    """--text, --tokenizer, --streaming and --on-bad-record reach the DataSpec."""
    ws = tmp_path / "ws"
    words = ["great product works well", "broken on arrival", "excellent love it", "poor broken"]
    pd.DataFrame({"review": words * 10, "stars": ["good", "bad", "good", "bad"] * 10}).to_csv(
        tmp_path / "rv.csv", index=False
    )
    csv = str(tmp_path / "rv.csv")
    out = aimass(
        ws, "datasets", "add", "rv", "--path", csv, "--target", "stars", "--text", "review",
        "--on-bad-record", "skip", "--json", check=True,
    ).stdout  # fmt: skip
    info = json.loads(out)
    assert info["input_kind"] == "text" and info["spec"]["on_bad_record"] == "skip"
    assert info["vocab_size"] > 4
    done = aimass(
        ws, "datasets", "add", "rv2", "--path", csv, "--target", "stars", "--text", "review",
        "--tokenizer", str(tmp_path / "no-such-folder"),
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: tokenizer folder not found: {tmp_path / 'no-such-folder'}; tokenizer.path must "
        "be a local folder holding tokenizer.json (as save_pretrained writes it) or the "
        "tokenizer.json file itself"
    ]
    pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 2}).to_parquet(tmp_path / "t.parquet")
    out = aimass(
        ws, "datasets", "add", "big", "--source", "parquet", "--path", str(tmp_path / "t.parquet"),
        "--target", "y", "--streaming", "true", "--json", check=True,
    ).stdout  # fmt: skip
    info = json.loads(out)
    assert info["spec"]["streaming"] is True and info["in_memory"] is False
