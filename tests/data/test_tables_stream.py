"""Tables streamed through Arrow: every source, equality with the in-memory path, sharding,
the one-pass report, bad records, the digest cache, a lazy-memory proof and real training."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from aimass_lab.data import load
from aimass_lab.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.float64),
            "x": rng.normal(size=n).round(3),
            "color": rng.choice(["red", "green", "blue"], n),
            "label": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[[4, 9, 33], "x"] = np.nan
    return frame


def _write(kind: str, root: Path, frame: pd.DataFrame) -> str:
    if kind == "parquet":
        frame.to_parquet(root / "t.parquet", row_group_size=50)
        return str(root / "t.parquet")
    if kind in ("parquet-folder", "parquet-glob"):
        folder = root / "parts"
        folder.mkdir()
        for i, start in enumerate(range(0, len(frame), 80)):
            frame.iloc[start : start + 80].to_parquet(
                folder / f"part-{i}.parquet", row_group_size=40
            )
        return str(folder) if kind == "parquet-folder" else str(folder / "part-*.parquet")
    if kind == "csv":
        frame.to_csv(root / "t.csv", index=False)
        return str(root / "t.csv")
    if kind == "jsonl":
        frame.to_json(root / "t.jsonl", orient="records", lines=True)
        return str(root / "t.jsonl")
    import datasets

    datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(root / "hf"))
    return str(root / "hf")


def _spec(kind: str, path: str, **more: object) -> dict[str, object]:
    source = {"parquet-folder": "parquet", "parquet-glob": "parquet"}.get(kind, kind)
    spec: dict[str, object] = {"source": source, "path": path, "target": "label"}
    spec.update(more)
    return spec


def _rows(loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*list(loader), strict=True)
    return torch.cat(xs).numpy(), torch.cat(ys).numpy()


@pytest.mark.parametrize(
    "kind", ["parquet", "parquet-folder", "parquet-glob", "csv", "jsonl", "hf"]
)
def test_streamed_source_matches_the_in_memory_path(kind: str, tmp_path: Path) -> None:
    path = _write(kind, tmp_path, _frame())
    memory = load(_spec(kind, path, streaming=False))
    streamed = load(_spec(kind, path, streaming=True, loader={"batch_rows": 256, "num_workers": 0}))
    assert memory.in_memory and not streamed.in_memory
    assert streamed.parts["train"].streamed and "streamed from" in repr(streamed.parts["train"])
    assert streamed.classes == memory.classes and streamed.sizes == memory.sizes
    assert streamed.feature_names == memory.feature_names
    for part in ("train", "val", "test"):
        X, y = streamed.take(part, None)
        np.testing.assert_allclose(X, getattr(memory, f"X_{part}"), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(y, getattr(memory, f"y_{part}"))
    with pytest.raises(DataError, match="read from files on demand"):
        streamed.X_train  # noqa: B018
    dm = streamed.datamodule(batch_size=16)
    X_val, y_val = _rows(dm.val_dataloader())  # no shuffle: the in-memory order
    np.testing.assert_allclose(X_val, memory.X_val, atol=1e-6)
    np.testing.assert_array_equal(y_val, memory.y_val)
    X_tr, y_tr = _rows(dm.train_dataloader())  # shuffled: the same rows
    order, expected = np.argsort(X_tr[:, 0]), np.argsort(memory.X_train[:, 0])
    np.testing.assert_allclose(X_tr[order], memory.X_train[expected], atol=1e-6)
    np.testing.assert_array_equal(y_tr[order], memory.y_train[expected])
    assert not np.array_equal(X_tr, memory.X_train)
    preview = streamed.parts["test"].preview(3)
    assert [r["index"] for r in preview] == [0, 1, 2] and set(preview[0]["values"]) == {
        "id",
        "x",
        "color",
    }
    json.dumps(preview)
    # a page from the end of the part: positions in the part, the labels of those rows
    page, expected = streamed.preview("train", 150, 30), memory.preview("train", 150, 30)

    def shown(row: dict[str, Any]) -> tuple[object, ...]:  # the cells' types follow the reader
        return row["index"], row["label"], float(row["values"]["id"]), row["values"]["color"]

    assert [shown(r) for r in page["rows"]] == [shown(r) for r in expected["rows"]]
    assert [r["row"] for r in page["rows"]] == [int(r["values"]["id"]) for r in page["rows"]]


def test_batches_are_whole_and_the_shuffle_is_seeded_per_epoch(tmp_path: Path) -> None:
    path = _write("parquet", tmp_path, _frame(400))
    ds = load(_spec("parquet", path, streaming=True, preprocess={"standardize": False}))
    part = ds.parts["train"]
    stream = part.torch_dataset(batch_size=32, shuffle=True, seed=3)
    epochs = [[b[0][:, 0].tolist() for b in stream] for _ in range(2)]
    assert all(len(b) == 32 for b in epochs[0][:-1])
    assert epochs[0] != epochs[1]
    flat = [sorted(v for b in epoch for v in b) for epoch in epochs]
    assert flat[0] == flat[1] == sorted(ds.indices["train"])
    again = part.torch_dataset(batch_size=32, shuffle=True, seed=3)
    assert [b[0][:, 0].tolist() for b in again] == epochs[0]


def test_auto_streams_above_the_memory_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write("parquet", tmp_path, _frame())
    assert load(_spec("parquet", path)).in_memory
    monkeypatch.setenv("AIMASS_DATA_IN_MEMORY_MB", "0.001")
    assert not load(_spec("parquet", path)).in_memory
    csv = _write("csv", tmp_path, _frame())
    assert not load(_spec("csv", csv)).in_memory


def test_csv_is_converted_once_into_a_cached_parquet(tmp_path: Path) -> None:
    from aimass_lab.data._filecache import cache_dir

    path = Path(_write("csv", tmp_path, _frame()))
    load(_spec("csv", str(path), streaming=True))
    cached = list((cache_dir() / "tables").glob("*.parquet"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    load(_spec("csv", str(path), streaming=True))
    assert cached[0].stat().st_mtime_ns == stamp  # read from the cache
    _frame(seed=1).to_csv(path, index=False)  # a new version: a new cache file
    load(_spec("csv", str(path), streaming=True))
    assert len(list((cache_dir() / "tables").glob("*.parquet"))) == 2
    assert not list((cache_dir() / "tables").glob(".*.tmp"))


def test_csv_types_inferred_from_the_first_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.data import _arrow

    monkeypatch.setattr(_arrow, "INFER_BLOCK_BYTES", 1024)
    frame = _frame(400).assign(code=lambda f: f["id"].astype(int).astype(str))
    frame.loc[390, "code"] = "x390"  # text after the first block of numbers
    frame.to_csv(tmp_path / "t.csv", index=False)
    spec = _spec("csv", str(tmp_path / "t.csv"), streaming=True)
    with pytest.raises(DataError, match=r"t.csv \(streamed, after about \d+ rows\).*column_types"):
        load(spec)
    ds = load({**spec, "options": {"column_types": {"code": "string"}}})
    assert len(ds) == 400 and "code=1" in ds.feature_names  # read as text


def test_parquet_parts_with_different_schemas(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    _frame().to_parquet(folder / "a.parquet")
    other = _frame().assign(x=lambda f: f["x"].astype(str)).drop(columns=["color"])
    other.to_parquet(folder / "b.parquet")
    with pytest.raises(DataError) as info:
        load(_spec("parquet", str(folder), streaming=True))
    message = str(info.value)
    assert "a.parquet" in message and "b.parquet" in message
    assert "column 'color' only in a.parquet" in message
    assert re.search(r"column 'x' is double in a.parquet, (large_)?string in b.parquet", message)


def test_missing_target_and_feature_columns_are_named(tmp_path: Path) -> None:
    path = _write("parquet", tmp_path, _frame())
    with pytest.raises(
        DataError, match=r"target column 'nope' not found .*columns: id, x, color, label"
    ):
        load({"source": "parquet", "path": path, "target": "nope", "streaming": True})
    with pytest.raises(DataError, match=r"feature column\(s\) 'z' not found"):
        load(_spec("parquet", path, streaming=True, features=["x", "z"]))


@pytest.mark.parametrize("streaming", [True, "auto"])
def test_rows_without_a_target(tmp_path: Path, streaming: object) -> None:
    frame = _frame()
    frame.loc[[5, 17, 200], "label"] = None
    path = _write("parquet", tmp_path, frame)
    with pytest.raises(
        DataError, match=r"target column 'label' has 3 missing value\(s\).*row positions 5, 17, 200"
    ):
        load(_spec("parquet", path, streaming=streaming))
    ds = load(_spec("parquet", path, streaming=streaming, on_bad_record="skip"))
    assert len(ds) == len(frame) - 3 and not ds.in_memory
    assert ds.skipped_records == 3 and ds.info()["skipped_records"] == 3
    assert "3 bad records skipped" in repr(ds)
    kept = np.concatenate([ds.parts[p].rows for p in ("train", "val", "test")])
    assert not {5, 17, 200} & set(kept.tolist())
    report = ds.report()
    assert report.bad_records == 3
    assert [e.split(":")[0] for e in report.bad_examples] == ["row 5", "row 17", "row 200"]
    assert "bad_records" in report.warning_kinds() and report.n_rows == len(frame) - 3


def test_sharding_reads_every_row_once_over_ranks_and_workers(tmp_path: Path) -> None:
    frame = _frame(400)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=50)  # 8 units of 50 rows
    spec = _spec(
        "parquet", str(tmp_path / "t.parquet"), streaming=True, preprocess={"standardize": False}
    )
    ds = load({**spec, "split": {"val": 0.0, "test": 0.0}})
    part = ds.parts["train"]
    seen: list[float] = []
    batches = []
    for rank in (0, 1):
        stream = part.torch_dataset(batch_size=16, shuffle=True, seed=0, rank=rank, world_size=2)
        loader = DataLoader(stream, batch_size=None, num_workers=2)
        ids = [b[0][:, 0].tolist() for b in loader]
        batches.append(len(ids))
        seen.extend(v for b in ids for v in b)
    assert Counter(seen) == Counter(float(i) for i in range(400))  # exactly once each
    assert batches[0] == batches[1]
    # with a real split the parts differ per unit: ranks still yield as many batches
    ds = load(spec)
    counts = []
    reads: list[float] = []
    for rank in (0, 1):
        stream = ds.parts["train"].torch_dataset(
            batch_size=8, shuffle=True, seed=1, rank=rank, world_size=2
        )
        ids = [b[0][:, 0].tolist() for b in stream]
        counts.append(len(ids))
        reads.extend(v for b in ids for v in b)
    assert counts[0] == counts[1] and set(reads) == {float(i) for i in ds.indices["train"]}


_RANK = """
import json, sys
import torch.distributed as dist
rank, store, spec, out = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
from aimass_lab.data import load
loader = load(spec).datamodule(batch_size=16, num_workers=2).train_dataloader()
ids = [v for x, _ in loader for v in x[:, 0].tolist()]
open(out, "w").write(json.dumps(ids))
dist.destroy_process_group()
"""


def test_two_gloo_ranks_read_disjoint_shards(tmp_path: Path) -> None:
    """Real torch.distributed (gloo, 2 processes, 2 loader workers each): no seam."""
    _frame(400).to_parquet(tmp_path / "t.parquet", row_group_size=50)
    spec = _spec(
        "parquet",
        str(tmp_path / "t.parquet"),
        streaming=True,
        preprocess={"standardize": False},
        split={"val": 0.0, "test": 0.0},
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _RANK,
                str(rank),
                str(tmp_path / "store"),
                json.dumps(spec),
                str(tmp_path / f"rank{rank}.json"),
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    reads = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert len(reads[0]) == len(reads[1]) == 200
    assert not set(reads[0]) & set(reads[1])
    assert Counter(reads[0] + reads[1]) == Counter(float(i) for i in range(400))


def test_the_streamed_report_is_exact_where_one_pass_can_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.data import _tablereport

    frame = _frame(300).assign(note=lambda f: np.where(f["id"] % 2 == 0, "short", "a longer note"))
    frame = pd.concat([frame, frame.iloc[:20]], ignore_index=True)  # 20 duplicate rows
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, row_group_size=64)
    ds = load(_spec("parquet", str(path), streaming=True, loader={"batch_rows": 256}))
    monkeypatch.setattr(_tablereport, "SAMPLE_ROWS", 100)
    report = ds.report()
    memory = load(_spec("parquet", str(path), streaming=False)).report()
    assert report.n_rows == memory.n_rows == 320
    assert report.duplicates == memory.duplicates == 20
    assert report.class_balance == memory.class_balance
    assert report.missing == memory.missing == 5  # 3, and two of them repeated
    assert {s["column"]: s["missing"] for s in report.schema} == {
        s["column"]: s["missing"] for s in memory.schema
    }
    train, val, test = (set(ds.indices[p].tolist()) for p in ("train", "val", "test"))

    def twin(row: int) -> int:  # row i >= 300 repeats row i - 300
        return row + 300 if row < 20 else row - 300 if row >= 300 else -1

    def shared(a: set[int], b: set[int]) -> int:
        return sum(1 for row in b if twin(row) in a)

    assert report.leaked == shared(train, val | test)
    assert report.leaked > 0 and "leakage" in report.warning_kinds()
    assert report.distributions["text_length:note"] == {"<=7": 160, "<=15": 160}
    assert report.sample is not None and "random sample of 100 of 320 rows" in report.sample
    json.dumps(report.to_dict())


def test_preprocessing_is_fitted_on_a_bounded_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.data import _tables

    path = _write("parquet", tmp_path, _frame(400))
    monkeypatch.setattr(_tables, "FIT_SAMPLE_ROWS", 50)
    ds = load(_spec("parquet", path, streaming=True))
    train = ds.indices["train"]
    sample = np.sort(np.random.default_rng(ds.spec.split.seed).choice(train, 50, replace=False))
    assert ds.preprocessor.mean_["id"] == pytest.approx(float(sample.mean()))


def test_file_digests_are_cached_by_path_size_and_mtime(tmp_path: Path) -> None:
    from aimass_lab.data._filecache import cache_dir, cached_digest, cached_digests

    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"alpha" * 1000)
    b.write_bytes(b"beta")
    assert cached_digests([a, b]) == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert (cache_dir() / "files.sqlite").is_file()
    assert str(cache_dir()) == os.environ["AIMASS_CACHE_DIR"]
    a.write_bytes(b"changed")
    assert cached_digest(a) == hashlib.sha256(b"changed").hexdigest()


def test_the_fingerprint_follows_the_file(tmp_path: Path) -> None:
    path = Path(_write("parquet", tmp_path, _frame()))
    first = load(_spec("parquet", str(path), streaming=True)).fingerprint
    assert load(_spec("parquet", str(path), streaming=True)).fingerprint == first
    _frame(seed=2).to_parquet(path)
    assert load(_spec("parquet", str(path), streaming=True)).fingerprint != first


def test_hf_needs_the_datasets_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    (tmp_path / "hf").mkdir()
    with pytest.raises(DataError, match="needs the optional package 'datasets'"):
        load({"source": "hf", "path": str(tmp_path / "hf"), "target": "label"})


def test_hf_split_and_class_names(tmp_path: Path) -> None:
    import datasets

    frame = _frame()
    features = datasets.Features(
        {
            "id": datasets.Value("float64"),
            "x": datasets.Value("float64"),
            "color": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["a", "b", "c"]),
        }
    )
    table = datasets.Dataset.from_pandas(frame, features=features, preserve_index=False)
    datasets.DatasetDict({"train": table, "test": table}).save_to_disk(str(tmp_path / "dd"))
    for streaming in (True, False):
        ds = load(
            {
                "source": "hf",
                "path": str(tmp_path / "dd"),
                "target": "label",
                "streaming": streaming,
            }
        )
        assert ds.classes == ["a", "b", "c"]
        if streaming:
            assert ds.parts["test"].preview(1)[0]["label"] in ("a", "b", "c")
    with pytest.raises(DataError, match=r"no split 'dev'; splits: 'train', 'test'"):
        load(
            {
                "source": "hf",
                "path": str(tmp_path / "dd"),
                "target": "label",
                "options": {"split": "dev"},
            }
        )


def test_arrow_table_for_other_stages(tmp_path: Path) -> None:
    import pyarrow.dataset as pads

    from aimass_lab.data._tables import arrow_table
    from aimass_lab.specs import DataSpec

    path = _write("csv", tmp_path, _frame())
    data, files = arrow_table(DataSpec(source="csv", path=path, target="label"), None)
    assert isinstance(data, pads.Dataset) and files == [Path(path)]
    assert data.to_table(columns=["color"]).num_rows == 240


_LAZY = """
import resource, sys
import torch, lightning
from aimass_lab.data import load

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()  # after the imports
ds = load({"source": "parquet", "path": sys.argv[1], "target": "y", "loader": {"batch_rows": 8192}})
loader = ds.datamodule(batch_size=512, num_workers=0).train_dataloader()
seen = [sum(len(y) for _, y in loader) for _ in range(2)]
print(f"RESULT {ds.in_memory} {seen[0]} {seen[1]} {peak_mb() - before:.1f}")
"""


def _write_wide_parquet(path: Path, rows: int, cols: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    schema = pa.schema([(f"f{i}", pa.float64()) for i in range(cols)] + [("y", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(0, rows, 20_000):
            base = rng.integers(0, 64, 20_000).astype(np.float64)
            table = {f"f{i}": base + i for i in range(cols)}
            table["y"] = (base > 31).astype(np.int64)
            writer.write_table(pa.table(table, schema=schema))


def test_a_table_larger_than_the_memory_bound_streams(tmp_path: Path) -> None:
    """500,000 x 200 float64 = 763 MB in memory; the reading process may grow by 300 MB."""
    rows, cols = 500_000, 200
    table_mb = rows * cols * 8 / 2**20
    bound_mb = 300
    assert table_mb > 2.5 * bound_mb
    _write_wide_parquet(tmp_path / "big.parquet", rows, cols)  # here, not in the measured process
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LAZY), str(tmp_path / "big.parquet")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    _, in_memory, first, second, grown = line.split()
    assert in_memory == "False"  # streaming="auto" chose to stream
    assert int(first) == int(second) == 350_000  # the training part, twice
    assert float(grown) < bound_mb, f"peak RSS grew by {grown} MB for a {table_mb:.0f} MB table"


def test_training_on_a_streamed_parquet(sqlite_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import aimass_lab as am

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=(x[:, 0] > 0).astype(int))
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=100)
    spec = {
        "source": "parquet",
        "path": str(tmp_path / "t.parquet"),
        "target": "y",
        "streaming": True,
    }
    run = am.train(
        spec, "mlp", hparams={"hidden": 8}, max_epochs=1, batch_size=32, workspace=sqlite_workspace
    )
    run.wait(timeout=180)
    assert run.status == "succeeded", run.logs(tail=40)
    assert run.job.result["global_step"] > 0 and "test_acc" in run.summary
