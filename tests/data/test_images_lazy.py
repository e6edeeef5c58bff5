"""Image folders are read on demand: the file list up front, pixels in DataLoader workers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aimass_lab import datasets
from aimass_lab.data import _imagescan
from aimass_lab.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def _gray_folder(root: Path, n: int = 40, size: int = 12) -> Path:
    """``n`` gray images, each of one constant value ``5 * i`` (so a pixel names its file)."""
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((size, size), 5 * i, dtype=np.uint8), mode="L").save(
            folder / f"{i:03d}.png"
        )
    return root


def _run(script: str, *args: str, timeout: float = 300) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_full_array_is_never_built(tmp_path: Path) -> None:
    """Iterating a folder whose pixels need ~470 MB in memory grows the process by far less."""
    root = tmp_path / "big"
    rng = np.random.default_rng(0)
    for i in range(1200):
        folder = root / f"c{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((180, 180)).save(folder / f"{i}.jpg", quality=70)
    full_mb = 1200 * 3 * 180 * 180 * 4 / 2**20  # what one float32 array of every image takes
    out = _run(
        """
        import resource, sys
        import aimass_lab.data as data
        import torch  # imported before the baseline is taken

        def peak_mb():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        ds = data.load({"source": "image_folder", "path": sys.argv[1], "image_size": 180,
                        "split": {"val": 0.1, "test": 0.1}})
        base = peak_mb()
        dm = ds.datamodule(batch_size=32, num_workers=0)
        rows = 0
        for _ in range(3):
            for x, y in dm.train_dataloader():
                rows += len(y)
        print(rows // 3 - ds.sizes["train"], base, peak_mb())
        """,
        str(root),
    )
    rows, base, peak = out.split()
    assert int(rows) == 0  # three epochs of every training row
    grown = float(peak) - float(base)
    assert grown < full_mb / 4, (
        f"grew {grown:.0f} MB while iterating (all pixels: {full_mb:.0f} MB)"
    )


def test_scan_is_cached_by_path_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _gray_folder(tmp_path / "g", n=10)
    reads: list[str] = []
    real = _imagescan._read

    def counting(path: str) -> _imagescan.FileInfo:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(_imagescan, "_read", counting)
    first = datasets.load({"source": "image_folder", "path": str(root)})
    assert len(reads) == 10
    again = datasets.load({"source": "image_folder", "path": str(root)})
    assert len(reads) == 10 and again.fingerprint == first.fingerprint  # only stat() this time
    changed = root / "a" / "001.png"
    Image.fromarray(np.full((12, 12), 77, dtype=np.uint8), mode="L").save(changed)
    os.utime(changed, ns=(0, 10**18))
    third = datasets.load({"source": "image_folder", "path": str(root)})
    assert reads[10:] == [str(changed)]
    assert third.fingerprint != first.fingerprint


def test_bad_files_error_or_skip_and_count(tmp_path: Path) -> None:
    root = _gray_folder(tmp_path / "g", n=30)
    for i in range(12):
        (root / "a" / f"zz{i:02d}.png").write_bytes(b"\x89PNG not really")
    spec = {"source": "image_folder", "path": str(root)}
    with pytest.raises(DataError) as info:
        datasets.load(spec)
    message = str(info.value)
    assert message.startswith("12 unreadable image file(s) in ")
    assert "(and 2 more)" in message and "zz00.png" in message and "zz09.png" in message
    assert "zz10.png" not in message and "on_bad_record='skip'" in message
    ds = datasets.load({**spec, "on_bad_record": "skip"})
    assert len(ds) == 30
    report = ds.report()
    assert report.bad_records == 12 and len(report.bad_examples) == 10
    assert "zz00.png" in report.bad_examples[0] and "bad_records" in report.warning_kinds()


def test_a_file_corrupt_past_its_header_is_named_or_skipped(tmp_path: Path) -> None:
    root = tmp_path / "j"
    rng = np.random.default_rng(0)
    for i in range(24):
        folder = root / ("x" if i % 2 else "y")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    victim = root / "x" / "1.jpg"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) * 2 // 3])  # the header parses, the pixels do not
    spec = {"source": "image_folder", "path": str(root), "split": {"val": 0.0, "test": 0.0}}
    with pytest.raises(DataError, match=r"cannot read the image .*1\.jpg: image file is truncated"):
        datasets.load(spec).take("train", None)  # fitting the normalisation decodes it
    skipping = datasets.load({**spec, "on_bad_record": "skip"})
    X, y = skipping.take("train", None)
    assert len(X) == len(y) == 23
    dm = skipping.datamodule(batch_size=8, num_workers=0)
    assert sum(len(b[1]) for b in dm.train_dataloader()) == 23


def test_report_duplicates_leakage_and_sizes(tmp_path: Path) -> None:
    root = _gray_folder(tmp_path / "g", n=40)
    for i in range(8):  # copies of files under new names: duplicates by content
        shutil.copy(root / "a" / f"{2 * i + 1:03d}.png", root / "a" / f"copy{i}.png")
    Image.fromarray(np.zeros((20, 30), dtype=np.uint8), mode="L").save(root / "b" / "wide.png")
    ds = datasets.load(
        {"source": "image_folder", "path": str(root), "split": {"val": 0.25, "test": 0.25}}
    )
    report = ds.report()
    assert report.n_rows == 49 and report.duplicates == 8
    assert report.distributions["image_size"] == {"12x12": 48, "30x20": 1}
    assert report.distributions["image_mode"] == {"L": 49}
    assert report.class_balance == {"a": 28, "b": 21}
    hashes = {}
    for part, idx in ds.indices.items():
        for i in idx:
            path = ds.parts[part].paths[list(idx).index(i)].decode()
            hashes.setdefault(part, []).append(Path(path).read_bytes())
    train = set(hashes["train"])
    leaked = sum(h in train for part in ("val", "test") for h in hashes[part])
    assert report.leaked == leaked
    assert ("leakage" in report.warning_kinds()) == (leaked > 0)
    assert json.loads(json.dumps(report.to_dict()))["distributions"]["image_mode"] == {"L": 49}


def test_preview_gives_thumbnails_and_labels(tmp_path: Path) -> None:
    root = _gray_folder(tmp_path / "g", n=10)
    ds = datasets.load({"source": "image_folder", "path": str(root)})
    rows = ds.parts["train"].preview(3, 0)
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert all(r["thumbnail"].startswith("data:image/png;base64,") for r in rows)
    assert all(r["label"] in ("a", "b") and r["path"].endswith(".png") for r in rows)


DDP_SCRIPT = """
import json, sys
import lightning.pytorch as pl
import torch
import aimass_lab.data as data

class Record(pl.LightningModule):
    def __init__(self, out, mean, std):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.out, self.mean, self.std = out, mean, std
        self.seen = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        pixel = (x[:, 0, 0, 0] * self.std + self.mean) * 255 / 5
        self.seen += [int(round(float(v))) for v in pixel]
        return self.layer(x.mean(dim=(1, 2, 3))[:, None]).sum()

    def on_train_end(self):
        with open(f"{self.out}.{self.global_rank}", "w") as handle:
            json.dump(self.seen, handle)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

if __name__ == "__main__":
    ds = data.load({"source": "image_folder", "path": sys.argv[1],
                    "split": {"val": 0.0, "test": 0.0}, "loader": {"num_workers": 1}})
    state = ds.preprocessor.state_dict()
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(Record(sys.argv[2], state["mean"], state["std"]),
                datamodule=ds.datamodule(batch_size=4))
"""


def test_ddp_ranks_read_disjoint_shards(tmp_path: Path) -> None:
    """Two CPU DDP processes (gloo): each reads only its half of the training files."""
    root = _gray_folder(tmp_path / "g", n=40)
    script = tmp_path / "ddp_record.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "seen"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script), str(root), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = json.loads(Path(f"{out}.0").read_text())
    rank1 = json.loads(Path(f"{out}.1").read_text())
    assert len(rank0) == len(rank1) == 20
    assert not set(rank0) & set(rank1)
    assert sorted(rank0 + rank1) == list(range(40))
