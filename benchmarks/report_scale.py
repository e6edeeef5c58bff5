#!/usr/bin/env python
"""The data report on a large in-memory table: time of ``compute_report`` (what
``aimass datasets report`` and ``Dataset.report()`` run on a table read in memory).

A generated table of ``--rows`` rows (default 2,000,000) and 30 feature columns (27 float64,
one small-integer, one bool, one 3-value text column) plus a binary target, with a planted
leak (a feature equal to the target). Goal: under 20 s for 2,000,000 x 30; the report says it
sampled and still names the leaking column. Generating the table is not timed.

Run::

    .venv/bin/python benchmarks/report_scale.py            # 2,000,000 rows
    .venv/bin/python benchmarks/report_scale.py --rows 200000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from aimass_lab.data._report import compute_report


def table(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``rows`` x 30 features and a binary target; feature ``leak`` equals the target."""
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.integers(0, 2, rows), name="y")
    X = pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(26)})
    X["count"] = rng.integers(0, 100, rows)
    X["flag"] = rng.random(rows) > 0.5
    X["colour"] = rng.choice(["red", "green", "blue"], rows)
    X["leak"] = y.to_numpy()
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, y = table(args.rows)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        report = compute_report(X, y, name="bench", task="classification", target="y")
        times.append(time.perf_counter() - start)
    leaks = [w.get("column") for w in report.warnings if w["kind"] == "leakage"]
    print(
        json.dumps(
            {
                "rows": args.rows,
                "features": X.shape[1],
                "seconds": sorted(times),
                "median_s": sorted(times)[len(times) // 2],
                "sample": report.sample,
                "leaks": leaks,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
