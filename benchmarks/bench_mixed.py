"""The lagged within–between mixed model on 2,000 participants × 12 sessions, against
statsmodels' MixedLM fitting the same model (REML) on the same rows in the same run.

alliance fits by profiling the REML criterion over θ = σ_participant/σ from per-participant
sums and adds lmerTest's Satterthwaite df (closed-form deviance Hessian); MixedLM optimises the
REML likelihood numerically and gives z tests only (no df). Both fits are checked to agree on
the fixed effects before any time is reported. The two alternate, several times each, and the
medians are compared.

    python benchmarks/bench_mixed.py [--participants 2000] [--sessions 12] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd


def lagged_rows(participants: int, sessions: int, seed: int = 1) -> pd.DataFrame:
    """Rows of the lagged model built as alliance builds them (lag 1, ~10 % sessions missing)."""
    from alliance.models.longitudinal import longitudinal_data
    from alliance.models.mixed_plan import LongitudinalSpec

    rng = np.random.default_rng(seed)
    trait = rng.normal(0, 0.6, participants)
    w = 5 + trait[:, None] + rng.normal(0, 0.5, (participants, sessions))
    y = (
        40
        - 2 * np.arange(sessions)[None, :]
        + rng.normal(0, 4, participants)[:, None]
        + rng.normal(0, 5, (participants, sessions))
    )
    y[:, 1:] -= 1.5 * (w[:, :-1] - w.mean(axis=1, keepdims=True)) + 3 * trait[:, None]
    w[rng.random(w.shape) < 0.1] = np.nan
    y[rng.random(y.shape) < 0.1] = np.nan
    timepoints = tuple(f"s{k + 1}" for k in range(sessions))
    episodes = pd.DataFrame(
        {"participant_id": [f"P{i:05d}" for i in range(participants)]}
        | {f"y__{t}": y[:, k] for k, t in enumerate(timepoints)}
        | {f"w__{t}": w[:, k] for k, t in enumerate(timepoints)}
    )
    spec = LongitudinalSpec(name="bench", outcome="y", predictor="w", timepoints=timepoints)
    return longitudinal_data(episodes, spec).rows


def fit_alliance(rows: pd.DataFrame) -> np.ndarray:
    from alliance.models.mixed import fit_random_intercept

    names = ("(Intercept)", "time", "w_within", "w_between")
    X = np.column_stack([np.ones(len(rows)), rows[list(names[1:])].to_numpy(float)])
    fit = fit_random_intercept(rows["y"].to_numpy(float), X, rows["participant_id"], names)
    return fit.estimate


def fit_statsmodels(rows: pd.DataFrame) -> np.ndarray:
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm("y ~ time + w_within + w_between", rows, groups=rows["participant_id"])
        return np.asarray(model.fit(reml=True).fe_params)


def timed(fn, rows: pd.DataFrame) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(rows)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = lagged_rows(args.participants, args.sessions)
    ours, theirs = [], []
    for _ in range(args.repeats):
        t_ours, b_ours = timed(fit_alliance, rows)
        t_sm, b_sm = timed(fit_statsmodels, rows)
        ours.append(t_ours)
        theirs.append(t_sm)
    agree = np.max(np.abs(b_ours - b_sm) / np.maximum(np.abs(b_sm), 1e-8))
    print(
        f"lagged within-between model: {args.participants} participants x {args.sessions} "
        f"sessions, {len(rows)} rows; fixed effects agree to {agree:.1e} (relative)"
    )
    a, s = statistics.median(ours), statistics.median(theirs)
    print(f"  alliance (REML + Satterthwaite df): {a * 1000:8.1f} ms (median of {args.repeats})")
    print(f"  statsmodels MixedLM (REML, z only):  {s * 1000:8.1f} ms")
    print(f"  ratio statsmodels / alliance: {s / a:.1f}x")


if __name__ == "__main__":
    main()
