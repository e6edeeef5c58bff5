"""Text data: tokenizers (trained or loaded), token parts, padding, buckets, bad records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aimass_lab import datasets
from aimass_lab.data import Preprocessor
from aimass_lab.errors import DataError, SpecError

TOK = {"vocab_size": 120, "min_frequency": 1, "max_length": 16}


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    good, bad = ["good", "great", "fine"], ["bad", "awful", "poor"]
    labels = rng.integers(0, 2, n)
    texts = [" ".join(rng.choice(good if y else bad, int(rng.integers(1, 12)))) for y in labels]
    return pd.DataFrame({"review": texts, "stars": np.where(labels, "up", "down")})


def test_reviews_builtin_trained_tokenizer_and_parts() -> None:
    ds = datasets.load("reviews", options={"n_samples": 200}, tokenizer=TOK)
    assert ds.input_kind == "text" and ds.input_shape == (16,)
    info = ds.info()
    assert info["vocab_size"] == ds.vocab_size and 10 < ds.vocab_size <= 120
    assert ds.spec.text == "text" and ds.classes == ["negative", "positive"]
    X, _ = ds.take("train", 5)
    assert X.dtype == np.int64 and X.shape[0] == 5 and X.shape[1] <= 16
    assert (X[:, 0] != ds.pad_id).all()  # every text has at least one token
    rows = ds.parts["test"].preview(3)
    assert [set(r) for r in rows] == [{"index", "label", "text", "row"}] * 3
    assert all(r["label"] in ds.classes and isinstance(r["text"], str) for r in rows)
    page = ds.preview("test", start=2, n=3)
    assert page["kind"] == "text" and [r["index"] for r in page["rows"]] == [2, 3, 4]
    labels = [ds.classes[int(v)] for v in ds.y_test[2:5]]
    assert [r["label"] for r in page["rows"]] == labels
    assert [r["text"] for r in page["rows"]] == [r["text"] for r in ds.parts["test"].preview(3, 2)]
    with pytest.raises(DataError, match="take"):
        _ = ds.X_train
    # the preprocessor state rebuilds the same tokenizer: same ids from raw strings
    state = json.loads(json.dumps(ds.preprocessor.state_dict()))
    pre = Preprocessor.from_state(state)
    texts = [r["text"] for r in ds.parts["train"].preview(5)]
    assert np.array_equal(pre.transform(texts), X)
    assert pre.transform("x").shape == (1, 1)
    assert pre.transform(["a", "b"], pad_to_max_length=True).shape == (2, 16)
    with pytest.raises(DataError, match="strings"):
        pre.transform([1, 2])


def test_fingerprint_follows_tokenizer_settings() -> None:
    a = datasets.load("reviews", options={"n_samples": 100}, tokenizer=TOK)
    b = datasets.load("reviews", options={"n_samples": 100}, tokenizer={**TOK, "vocab_size": 90})
    c = datasets.load("reviews", options={"n_samples": 100}, tokenizer=TOK)
    assert a.fingerprint == c.fingerprint != b.fingerprint


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_trained_kinds_truncate_and_pad(kind: str) -> None:
    ds = datasets.load(
        "reviews", options={"n_samples": 120}, tokenizer={**TOK, "kind": kind, "max_length": 6}
    )
    lengths = ds.parts["train"].lengths
    assert lengths.max() == 6 and lengths.min() >= 1
    x, _ = next(iter(ds.datamodule(batch_size=7).val_dataloader()))
    assert x.dtype == torch.int64 and x.shape[1] <= 6


def _save_tokenizer(folder: Path, *, pad: bool = True) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "good": 1, "bad": 2, "great": 3, "awful": 4, "fine": 5, "poor": 6}
    if pad:
        vocab["<pad>"] = 7
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    if pad:
        (folder / "tokenizer_config.json").write_text(json.dumps({"pad_token": "<pad>"}))
    return folder


def test_tokenizer_from_folder_and_file(tmp_path: Path) -> None:
    frame = _frame()
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    folder = _save_tokenizer(tmp_path / "tok")
    base = {"source": "csv", "path": str(csv), "target": "stars", "text": "review"}
    ds = datasets.load({**base, "tokenizer": {"path": str(folder), "max_length": 8}})
    assert ds.vocab_size == 8 and ds.pad_id == 7
    X, _ = ds.take("train", None)
    assert X.max() < 8 and X.shape[1] <= 8
    by_file = datasets.load(
        {**base, "tokenizer": {"path": str(folder / "tokenizer.json"), "max_length": 8}}
    )
    assert by_file.preprocessor.tokenizer_sha256 == ds.preprocessor.tokenizer_sha256
    # no pad token: [PAD] is added as a new special token
    nopad = _save_tokenizer(tmp_path / "nopad", pad=False)
    ds2 = datasets.load({**base, "tokenizer": {"path": str(nopad), "max_length": 8}})
    assert ds2.pad_id == 7 and ds2.vocab_size == 8


def test_tokenizer_errors(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    _frame().to_csv(csv, index=False)
    base = {"source": "csv", "path": str(csv), "target": "stars", "text": "review"}
    with pytest.raises(DataError, match="tokenizer folder not found"):
        datasets.load({**base, "tokenizer": {"path": str(tmp_path / "nope")}})
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "vocab.txt").write_text("a\n")
    with pytest.raises(DataError, match=r"has no tokenizer.json \(it holds: vocab.txt\)"):
        datasets.load({**base, "tokenizer": {"path": str(empty)}})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer.json").write_text('{"not": "a tokenizer"}')
    with pytest.raises(DataError, match="cannot load the tokenizer"):
        datasets.load({**base, "tokenizer": {"path": str(broken)}})
    with pytest.raises(DataError, match=r"text column 'body' not found; columns: review, stars"):
        datasets.load({**base, "text": "body"})
    with pytest.raises(SpecError):
        datasets.load({**base, "features": ["review"]})


def test_stored_tokenizer_checks() -> None:
    ds = datasets.load("reviews", options={"n_samples": 80}, tokenizer=TOK)
    other = datasets.load("reviews", options={"n_samples": 80}, tokenizer={**TOK, "vocab_size": 60})
    state = ds.preprocessor.state_dict()
    ds.preprocessor.check_matches(state)
    with pytest.raises(DataError, match="differs from this dataset's"):
        other.preprocessor.check_matches(state, "model m:1")
    with pytest.raises(DataError, match="takes tabular input"):
        ds.preprocessor.check_matches(datasets.load("iris").preprocessor.state_dict())
    tampered = {**state, "tokenizer": state["tokenizer"].replace("[UNK]", "[UNX]")}
    with pytest.raises(DataError, match="does not match its sha256"):
        Preprocessor.from_state(tampered)
    with pytest.raises(DataError, match="does not load"):
        Preprocessor.from_state({**state, "tokenizer": "{", "tokenizer_sha256": None})


def _bad_parquet(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts: list[bytes | None] = [f"good text {i}".encode() for i in range(40)]
    texts[3] = None
    texts[7] = b"caf\xe9 latin-1"
    labels = ["up" if i % 2 else "down" for i in range(40)]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"review": pa.array(texts, pa.binary()), "stars": labels}), path)
    return path


def test_bad_records_error_and_skip(tmp_path: Path) -> None:
    path = _bad_parquet(tmp_path)
    spec = {"source": "parquet", "path": str(path), "target": "stars", "text": "review"}
    with pytest.raises(DataError) as err:
        datasets.load({**spec, "tokenizer": TOK})
    message = str(err.value)
    assert "2 bad text record(s)" in message and "row 3: missing text" in message
    assert "row 7: not UTF-8" in message and "on_bad_record='skip'" in message
    ds = datasets.load({**spec, "tokenizer": TOK, "on_bad_record": "skip"})
    assert len(ds) == 38
    report = ds.report()
    found = [w for w in report.warnings if w["kind"] == "bad_records"]
    assert found and found[0]["count"] == 2 and found[0]["rows"] == [3, 7]
    assert report.bad_records == 2 and report.bad_examples[0] == "row 3: missing text"
    assert all(r["row"] not in (3, 7) for p in ds.parts.values() for r in p.preview(40))
    assert ds.skipped_records == 2 and "2 bad records skipped" in repr(ds)


def test_csv_not_utf8_and_missing_text(tmp_path: Path) -> None:
    rows = [b"review,stars"] + [b"good words %d,up" % i for i in range(30)]
    rows[5] = b"caf\xe9 \xff,down"
    rows[9] = b",down"
    csv = tmp_path / "latin.csv"
    csv.write_bytes(b"\n".join(rows) + b"\n")
    spec = {"source": "csv", "path": str(csv), "target": "stars", "text": "review"}
    with pytest.raises(DataError, match=r"row 4: not UTF-8.*row 8: missing text"):
        datasets.load({**spec, "tokenizer": TOK})
    ds = datasets.load({**spec, "tokenizer": TOK, "on_bad_record": "skip"})
    assert len(ds) == 28


def test_missing_targets_skipped_with_bad_texts(tmp_path: Path) -> None:
    frame = _frame(40)
    frame.loc[5, "stars"] = None
    frame.loc[6, "review"] = None
    path = tmp_path / "t.jsonl"
    frame.to_json(path, orient="records", lines=True)
    spec = {"source": "jsonl", "path": str(path), "target": "stars", "text": "review"}
    with pytest.raises(DataError, match=r"row 6: missing text"):
        datasets.load({**spec, "tokenizer": TOK})
    ds = datasets.load({**spec, "tokenizer": TOK, "on_bad_record": "skip"})
    assert ds.input_kind == "text" and len(ds) == 38 and ds.skipped_records == 2
    assert ds.report().bad_examples == ["row 5: missing target", "row 6: missing text"]


def test_many_bad_rows_named_first_ten() -> None:
    frame = _frame(40)
    frame.loc[::2, "review"] = None
    with pytest.raises(DataError, match=r"20 bad text record\(s\).*row 18: missing text; …"):
        datasets.from_dataframe(frame, "stars", text="review", tokenizer=TOK)


def test_dynamic_padding_and_buckets() -> None:
    from lightning.fabric.utilities.data import _replace_dunder_methods
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import BatchSampler, DistributedSampler

    from aimass_lab.data._texttorch import BucketBatchSampler

    ds = datasets.load(
        "reviews",
        options={"n_samples": 600},
        tokenizer={**TOK, "max_length": 64, "bucket_by_length": True},
    )
    train = ds.parts["train"]
    loader = ds.datamodule(batch_size=16, seed=3).train_dataloader()
    batches = list(loader)
    assert sum(len(y) for _, y in batches) == len(train)
    pad = ds.pad_id
    # each batch is padded to its own longest text, and buckets keep lengths close
    widths = [int((x != pad).sum(1).max()) for x, _ in batches]
    assert widths == [x.shape[1] for x, _ in batches]
    spread = np.mean([int((x != pad).sum(1).max() - (x != pad).sum(1).min()) for x, _ in batches])
    # seeded: the same order again; another epoch: another order
    again = [x for x, _ in ds.datamodule(batch_size=16, seed=3).train_dataloader()]
    assert all(torch.equal(a, b) for a, b in zip(again, [x for x, _ in batches], strict=True))
    second = [x.shape for x, _ in loader]
    assert second != [x.shape for x, _ in batches]
    train.bucket_by_length = False
    plain = ds.datamodule(batch_size=16, seed=3).train_dataloader()
    plain_spread = np.mean(
        [int((x != pad).sum(1).max() - (x != pad).sum(1).min()) for x, _ in plain]
    )
    assert spread < plain_spread / 2
    # DDP: Lightning's sampler injection gives each rank its own shard, bucketed; both with
    # the init arguments Lightning captures and without (a class imported inside the hook)
    train.bucket_by_length = True
    with _replace_dunder_methods(BatchSampler):
        captured = ds.datamodule(batch_size=16, seed=3).train_dataloader()
    assert hasattr(captured.batch_sampler, "__pl_saved_args")
    for source in (loader, captured):
        seen = []
        for rank in range(2):
            sampler = DistributedSampler(source.dataset, num_replicas=2, rank=rank, shuffle=True)
            sharded = _update_dataloader(source, sampler)
            assert isinstance(sharded.batch_sampler, BucketBatchSampler)
            assert sharded.batch_sampler.sampler is sampler and sharded.batch_sampler.shuffle
            idx = [i for b in sharded.batch_sampler for i in b]
            assert len(idx) == len(sampler) and len(list(sharded)) == len(sharded.batch_sampler)
            seen.append(set(idx))
        assert seen[0] | seen[1] == set(range(len(train)))
        assert len(seen[0] & seen[1]) <= 1  # DistributedSampler pads to equal shards


def test_tokenizers_parallelism_no_fork_warning(tmp_path: Path) -> None:
    code = (
        "from aimass_lab import datasets\n"
        "ds = datasets.load('reviews', options={'n_samples': 300}, "
        "tokenizer={'vocab_size': 100, 'min_frequency': 1})\n"
        "dm = ds.datamodule(batch_size=32, num_workers=2)\n"
        "n = sum(len(y) for _, y in dm.train_dataloader())\n"
        "import os; print('ROWS', n, os.environ.get('TOKENIZERS_PARALLELISM'))\n"
        "print('SHA', ds.preprocessor.tokenizer_sha256)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "ROWS 210 off" in out.stdout
    assert "TOKENIZERS_PARALLELISM" not in out.stderr and "forked" not in out.stderr
    # another process trains the same tokenizer (ids do not follow hash-map order)
    here = datasets.load(
        "reviews", options={"n_samples": 300}, tokenizer={"vocab_size": 100, "min_frequency": 1}
    )
    assert f"SHA {here.preprocessor.tokenizer_sha256}" in out.stdout


def test_regression_on_text() -> None:
    frame = _frame(50)
    frame["score"] = frame["review"].str.len().astype(float)
    ds = datasets.from_dataframe(
        frame.drop(columns=["stars"]), "score", text="review", task="regression", tokenizer=TOK
    )
    assert ds.task == "regression" and ds.y_train.dtype == np.float32
    report = ds.report()
    schema = {s["column"]: s for s in report.schema}
    assert schema["review"]["length_chars"]["max"] == int(frame["review"].str.len().max())
    assert sum(report.distributions["text_length"].values()) == 50


def test_arrow_table_entry_point() -> None:
    import pyarrow as pa

    from aimass_lab.data._load import build_lazy_dataset
    from aimass_lab.data._textdata import text_data_from_table
    from aimass_lab.specs import DataSpec

    texts = pa.chunked_array(
        [
            pa.array(["good fine", "bad poor", None], pa.large_string()),
            pa.array(["great"] * 30, pa.large_string()),
        ]
    )
    table = pa.table({"review": texts, "stars": ["up", "down", "up"] + ["up", "down"] * 15})
    spec = DataSpec(
        source="parquet",
        path="x",
        target="stars",
        text="review",
        tokenizer=TOK,
        on_bad_record="skip",
    )
    data = text_data_from_table(spec, table)
    assert len(data) == 32 and data.bad_rows == [(2, "missing text")]
    ds = build_lazy_dataset(spec, data, name="arrow")
    assert ds.input_kind == "text" and len(ds) == 32
    with pytest.raises(DataError, match=r"text column 'body' not found; columns: review, stars"):
        text_data_from_table(spec.model_copy(update={"text": "body"}), table)


def test_parquet_parts_read_through_arrow(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _frame(60).assign(extra=range(60))
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, part in enumerate((frame.iloc[:30], frame.iloc[30:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"{i}.parquet")
    spec = {"source": "parquet", "path": str(folder), "target": "stars", "text": "review"}
    ds = datasets.load({**spec, "tokenizer": TOK})
    same = datasets.from_dataframe(frame, "stars", text="review", tokenizer=TOK)
    assert len(ds) == 60 and ds.preprocessor.tokenizer_sha256 == same.preprocessor.tokenizer_sha256
    assert np.array_equal(ds.take("train", 10)[0], same.take("train", 10)[0])
    with pytest.raises(DataError, match=r"text column 'body' not found; columns: review, stars"):
        datasets.load({**spec, "text": "body"})
