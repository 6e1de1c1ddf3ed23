"""Shared test data: a small, valid item-level trial built from scratch (no generator)."""

from __future__ import annotations

import hashlib
import os

# One BLAS thread per test process, set before numpy loads: the suite runs a process per core
# (pytest-xdist), and BLAS threads competing with the other processes for the same cores made
# small least-squares solves up to 60x slower.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

WAI_ITEMS = [str(i) for i in range(1, 37)]
IESR_ITEMS = [str(i) for i in range(1, 23)]
CAPS4_ITEMS = [f"{i}{k}" for i in range(1, 18) for k in ("f", "i")]


def small_trial(seed: int = 7) -> pd.DataFrame:
    """Eight participants: 4 MDMA, 4 placebo (3 cross over), item layout, no missing items."""
    rng = np.random.default_rng(seed)
    people = [
        ("m1", "mdma", ["randomized"]),
        ("m2", "mdma", ["randomized"]),
        ("m3", "mdma", ["randomized"]),
        ("m4", "mdma", ["randomized", "open_label"]),
        ("p1", "placebo", ["randomized", "open_label"]),
        ("p2", "placebo", ["randomized", "open_label"]),
        ("p3", "placebo", ["randomized", "open_label"]),
        ("p4", "placebo", ["randomized"]),
    ]
    rows = []
    for pid, arm, phases in people:
        for phase in phases:
            for timepoint in ("baseline", "post"):
                for item in CAPS4_ITEMS:
                    rows.append((pid, phase, arm, timepoint, "CAPS4", item, rng.integers(0, 5)))
                for item in IESR_ITEMS:
                    rows.append((pid, phase, arm, timepoint, "IESR", item, rng.integers(0, 5)))
            for timepoint in ("pre_s3", "s4", "s9"):
                for item in WAI_ITEMS:
                    rows.append((pid, phase, arm, timepoint, "WAI", item, rng.integers(1, 8)))
    return pd.DataFrame(
        rows,
        columns=["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"],
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def trial_csv(tmp_path: Path) -> Path:
    path = tmp_path / "trial.csv"
    small_trial().to_csv(path, index=False)
    return path
