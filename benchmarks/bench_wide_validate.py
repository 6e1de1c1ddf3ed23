"""Validate a wide scored file against a narrow one holding the same number of cells.

A scored file of 10,000 columns and 1,000 rows, and one of 10 columns and 1,000,000 rows (ten
million cells each), are read and validated as ``alliance validate`` does (read, validate,
episodes, ledger). Time should grow with the cells, not with the columns: the goal (issue 11)
is a wide/narrow ratio within 3.

    python benchmarks/bench_wide_validate.py [--cells 10000000] [--columns 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SCORES = ("wai", "caps", "iesr")
ID_COLUMNS = 3  # participant_id, phase, arm


def make_scored(columns: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """participant_id, phase, arm and ``columns - 3`` score columns of whole numbers 20–80,
    within the range of every score used (WAI 12–252, CAPS 0–136, IES-R 0–88)."""
    rng = np.random.default_rng(seed)
    ids = pd.DataFrame(
        {
            "participant_id": [f"P{i:07d}" for i in range(rows)],
            "phase": "randomized",
            "arm": np.where(np.arange(rows) % 2 == 0, "mdma", "placebo"),
        }
    )
    names = [f"{SCORES[j % len(SCORES)]}__t{j}" for j in range(columns - ID_COLUMNS)]
    scores = pd.DataFrame(rng.integers(20, 81, size=(rows, len(names))), columns=names)
    return pd.concat([ids, scores], axis=1)


def validate_seconds(path: Path) -> float:
    """Wall time of what ``alliance validate`` runs, failing on any pandas PerformanceWarning."""
    from alliance.episodes.episodes import build_episodes
    from alliance.pipeline import ledger_for, load_data

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        loaded = load_data(path)
        ledger_for(loaded, build_episodes(loaded.scores))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=10_000)
    args = parser.parse_args()
    narrow_columns = 10
    with tempfile.TemporaryDirectory() as folder:
        wide = Path(folder) / "wide.csv"
        narrow = Path(folder) / "narrow.csv"
        make_scored(args.columns, args.cells // args.columns).to_csv(wide, index=False)
        make_scored(narrow_columns, args.cells // narrow_columns).to_csv(narrow, index=False)
        validate_seconds(narrow)  # warm-up: imports and instrument definitions
        narrow_s = validate_seconds(narrow)
        wide_s = validate_seconds(wide)
    ratio = wide_s / narrow_s
    print(f"cells per file: {args.cells:,}")
    print(
        f"wide   {args.columns:>6,} columns x {args.cells // args.columns:>9,} rows: {wide_s:7.2f} s"
    )
    print(
        f"narrow {narrow_columns:>6,} columns x {args.cells // narrow_columns:>9,} rows: "
        f"{narrow_s:7.2f} s"
    )
    print(f"ratio wide / narrow: {ratio:.2f} (goal: within 3)")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
