"""Fifty imputations of the demo trial and of a 1,000-episode trial (issue 14).

The engine (``alliance.missing.chained.impute``: one seeded chain per imputation, predictive
mean matching with a QR regression and a vectorised donor search) against the obvious
alternative, statsmodels' ``MICEData`` (chained equations with predictive mean matching, its
default), doing the same work in the same run: for every imputation, ``iterations`` rounds over
every incomplete variable, then the completed dataset is kept. The statsmodels loop is timed on
a subset of the imputations and extrapolated linearly (each costs the same).

Then the whole multiple-imputation stage as ``alliance analyze --missing mi`` runs it on the
demo: imputation, six models pooled, the δ grid of the sensitivity analysis.
Goal: at least 10x, and under 2 s for the demo trial.

    python benchmarks/bench_mi.py [--imputations 50] [--iterations 10] [--subset 5]
"""

from __future__ import annotations

import argparse
import os
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the alliance command runs

import numpy as np
import pandas as pd
from statsmodels.imputation.mice import MICEData

from alliance.episodes.episodes import build_episodes
from alliance.missing.analysis import imputation_frame, multiple_imputation
from alliance.missing.chained import impute
from alliance.models.plan import load_plan
from alliance.pipeline import load_data

PLAN = load_plan().with_overrides(missing_data="multiple_imputation")


def demo_frame() -> tuple[pd.DataFrame, np.ndarray, tuple[str, ...]]:
    path = Path(str(resources.files("alliance.data").joinpath("demo_trial.csv")))
    episodes = build_episodes(load_data(path).scores, PLAN.episode_rule).frame
    frame = imputation_frame(episodes, PLAN)
    return episodes, frame.observed, frame.columns


def large_trial(n: int = 1000, seed: int = 1) -> np.ndarray:
    """Seven correlated scores (as the demo's), 10 % of each missing at random."""
    rng = np.random.default_rng(seed)
    data = rng.multivariate_normal(np.zeros(7), 0.6 + 0.4 * np.eye(7), size=n)
    data[rng.random(data.shape) < 0.10] = np.nan
    return data


def engine(data: np.ndarray, imputations: int, iterations: int) -> float:
    columns = tuple(f"v{j}" for j in range(data.shape[1]))
    start = time.perf_counter()
    impute(data, columns, imputations, iterations, seed=0)
    return time.perf_counter() - start


def statsmodels_mice(data: np.ndarray, imputations: int, iterations: int) -> float:
    frame = pd.DataFrame(data, columns=[f"v{j}" for j in range(data.shape[1])])
    np.random.seed(0)  # statsmodels draws from numpy's global generator
    start = time.perf_counter()
    for _ in range(imputations):
        mice = MICEData(frame, k_pmm=5)
        mice.update_all(iterations)
        mice.data.copy()
    return time.perf_counter() - start


def compare(name: str, data: np.ndarray, imputations: int, iterations: int, subset: int) -> None:
    ours = engine(data, imputations, iterations)
    theirs = statsmodels_mice(data, subset, iterations) * imputations / subset
    print(
        f"{name}: {data.shape[0]} episodes, {int(np.isnan(data).sum())} missing values, "
        f"{imputations} imputations x {iterations} iterations"
    )
    print(f"  alliance impute:       {ours:8.3f} s")
    print(f"  statsmodels MICEData:  {theirs:8.3f} s (from {subset} imputations)")
    print(f"  ratio:                 {theirs / ours:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imputations", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--subset", type=int, default=5)
    args = parser.parse_args()
    episodes, observed, _ = demo_frame()
    compare("demo trial", observed, args.imputations, args.iterations, args.subset)
    compare("1,000-episode trial", large_trial(), args.imputations, args.iterations, args.subset)
    plan = PLAN.with_overrides(imputations=args.imputations)
    start = time.perf_counter()
    multiple_imputation(episodes, plan, seed=0)
    stage = time.perf_counter() - start
    print(
        f"whole MI stage on the demo (impute, pool six models, {41 * 3}-point δ grid): "
        f"{stage:.3f} s"
    )


if __name__ == "__main__":
    main()
