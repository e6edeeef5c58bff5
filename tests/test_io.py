"""The one atomic-write family: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimass_lab._io import atomic_open, atomic_path


def test_atomic_path_renames_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "model.onnx"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"new")
        assert not target.exists()  # nothing visible before the writer finished
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("helper", ["atomic_path", "atomic_open"])
def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, helper: str) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="exporter failed"):
        if helper == "atomic_path":
            with atomic_path(target) as tmp:
                tmp.write_text("half")
                raise RuntimeError("exporter failed")
        else:
            with atomic_open(target, "w") as fh:
                fh.write("half")
                raise RuntimeError("exporter failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
