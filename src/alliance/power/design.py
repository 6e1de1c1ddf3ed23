"""Whole-plan power: every model of the plan and its correction, in simulated replications.

One cell (N episodes, effects, scenario) draws ``simulations`` replications from the calibrated
generator (:mod:`alliance.synthetic.batch`), fits every model of the plan,
``post ~ baseline + alliance_t`` on the complete cases of each model, and applies the plan's
multiplicity correction to the alliance tests of each replication. Reported per cell:

- ``family_any``: the share of replications in which at least one alliance test survives the
  correction (under the global null, the family-wise error rate);
- ``family_all``: the share in which every alliance test survives;
- per model, the share in which its test survives (``power``) and, for reference, the share
  significant before correction (``power_unadjusted``), with the mean complete-case n.

Vectorised: replications × models are a batch dimension. The normal equations of all models of
a batch of replications come from one batched matrix product and are solved in closed form
(partialling out the baseline) for all models and replications at once; the correction is
applied to all replications at once (:func:`adjust_rows`, R's ``p.adjust`` row-wise). Missing scores enter as zero weights.

Replications are drawn in chunks of fixed size, chunk c from the cell's ``SeedSequence`` child c,
so a cell's numbers depend on its seed alone, never on how many workers compute the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from alliance.inference.multiplicity import METHODS
from alliance.models.plan import AnalysisPlan
from alliance.synthetic.batch import (
    BatchModel,
    EpisodeBatch,
    Scenario,
    build_batch_model,
    draw_episodes,
)

CHUNK = 1024  # replications per random stream; fixed so results never depend on batching
BATCH_BYTES = 12 * 2**20  # arrays of one batch stay below this (cache-friendly, measured)


@dataclass(frozen=True)
class DesignModel:
    outcome: str
    timepoint: str
    family: str  # multiplicity family label


def design_models(
    plan: AnalysisPlan, outcomes: tuple[str, ...], timepoints: tuple[str, ...]
) -> list[DesignModel]:
    """The plan's models the generator can simulate; ValueError naming what it cannot."""
    problems = []
    if plan.covariates:
        problems.append(
            f"covariates {', '.join(plan.covariates)}: the generator draws baseline, post and "
            "alliance only. Fix: plan the design without extra covariates (use --covariates "
            "for the single-test power with them)"
        )
    for o in plan.outcomes:
        if o.score not in outcomes:
            problems.append(
                f"outcome '{o.score}': the generator draws {', '.join(outcomes)} totals only"
            )
        if (o.baseline, o.post) != ("baseline", "post"):
            problems.append(
                f"outcome '{o.score}': the generator draws the 'baseline' and 'post' timepoints "
                f"only (the plan asks for '{o.baseline}' and '{o.post}')"
            )
    for p in plan.predictors:
        if p.score != "wai":
            problems.append(f"predictor '{p.score}': the generator draws the WAI total ('wai')")
        for t in p.timepoints:
            if t not in timepoints:
                problems.append(
                    f"predictor timepoint '{t}': the generator draws {', '.join(timepoints)}"
                )
    if problems:
        raise ValueError("; ".join(problems))
    return [
        DesignModel(
            outcome=spec.outcome.score,
            timepoint=spec.timepoint,
            family="all" if plan.multiplicity.family == "all" else spec.outcome.score,
        )
        for spec in plan.model_specs()
    ]


def adjust_rows(p: np.ndarray, method: str) -> np.ndarray:
    """R's ``p.adjust`` applied to each row of ``p`` (NaN: a test not done, not counted)."""
    if method not in METHODS:
        raise ValueError(f"unknown adjustment {method!r}")
    valid = ~np.isnan(p)
    n = valid.sum(axis=1, keepdims=True).astype(float)
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.where(valid, np.minimum(1.0, n * p), np.nan)
    order = np.argsort(np.where(valid, p, np.inf), axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)  # ascending, NaN last
    i = np.arange(1, p.shape[1] + 1, dtype=float)[None, :]
    if method == "holm":
        scaled = np.where(np.isnan(ranked), -np.inf, (n + 1 - i) * ranked)
        adjusted = np.minimum(1.0, np.maximum.accumulate(scaled, axis=1))
    else:
        if method == "hochberg":
            scaled = (n + 1 - i) * ranked
        elif method == "bh":
            scaled = (n / i) * ranked
        else:  # by
            q = np.cumsum(1.0 / np.arange(1, p.shape[1] + 1))[n[:, 0].astype(int) - 1, None]
            scaled = (q * n / i) * ranked
        scaled = np.where(np.isnan(ranked), np.inf, scaled)
        adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[:, ::-1], axis=1)[:, ::-1])
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=1)
    return np.where(valid, out, np.nan)


def adjust_by_families(p: np.ndarray, families: list[str], method: str) -> np.ndarray:
    out = np.empty_like(p)
    for label in dict.fromkeys(families):
        columns = [i for i, f in enumerate(families) if f == label]
        out[:, columns] = adjust_rows(p[:, columns], method)
    return out


def _t_from_moments(
    count: np.ndarray,
    sums: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(t, df) of the alliance coefficient in y ~ 1 + b + w from complete-case raw moments.

    The intercept is absorbed by centring the cross-products; w and y are then partialled on b
    (Frisch–Waugh–Lovell), which solves the 3 × 3 normal equations in closed form for every
    replication and model at once: with S the centred cross-products,

        S_ww·b = S_ww − S_bw² / S_bb,   S_wy·b = S_wy − S_bw·S_by / S_bb,
        RSS = S_yy − S_by² / S_bb − S_wy·b² / S_ww·b,   t = S_wy·b / √(RSS · S_ww·b / df).

    A model is not estimable (NaN) when df < 1 or b and w are collinear, judged as before by the
    determinant S_bb·S_ww − S_bw² against 1e-12 of S_bb·S_ww.
    """
    safe = np.maximum(count, 1.0)

    def centred(a: str, b: str, ab: str) -> np.ndarray:
        return sums[ab] - sums[a] * sums[b] / safe

    cbb, cww, cyy = centred("b", "b", "bb"), centred("w", "w", "ww"), centred("y", "y", "yy")
    cbw, cby, cwy = centred("b", "w", "bw"), centred("b", "y", "by"), centred("w", "y", "wy")
    df = count - 3
    det = cbb * cww - cbw * cbw
    usable = (df >= 1) & (det > 1e-12 * np.maximum(cbb * cww, 1e-300))
    cbb = np.where(usable, cbb, 1.0)  # usable implies S_bb > 0
    ww_b = np.where(usable, det / cbb, 1.0)
    wy_b = cwy - cbw * cby / cbb
    rss = cyy - cby * cby / cbb - wy_b * wy_b / ww_b
    with np.errstate(invalid="ignore", divide="ignore"):
        t = wy_b / np.sqrt(np.maximum(rss, 0.0) * ww_b / df)
    return np.where(usable, t, np.nan), np.where(usable, df, np.nan)


def _centre(values: np.ndarray) -> np.ndarray:
    """Values minus their replication's observed mean (keeps the raw moments well scaled)."""
    observed = ~np.isnan(values)
    mean = np.where(observed, values, 0.0).sum(-1, keepdims=True) / np.maximum(
        observed.sum(-1, keepdims=True), 1
    )
    return values - mean


def _shift(values: np.ndarray) -> float:
    """A constant near the values' centre: the mean of the first trial's observed values."""
    first = values.reshape(-1, values.shape[-1])[0]
    first = first[~np.isnan(first)]
    return float(first.mean()) if len(first) else 0.0


def alliance_tests(
    y: np.ndarray, baseline: np.ndarray, alliance: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, df, n) of the alliance coefficient in y ~ 1 + baseline + alliance, batched over the
    leading axes of (..., n) arrays; NaN marks a missing value (complete cases per regression)."""
    observed = ~(np.isnan(y) | np.isnan(baseline) | np.isnan(alliance))
    v = {
        key: np.where(observed, _centre(a), 0.0)
        for key, a in (("y", y), ("b", baseline), ("w", alliance))
    }
    count = observed.sum(-1).astype(float)
    sums = {key: a.sum(-1) for key, a in v.items()}
    for a, b in ("bb", "ww", "yy", "bw", "by", "wy"):
        sums[a + b] = np.einsum("...n,...n->...", v[a], v[b])
    t, df = _t_from_moments(count, sums)
    return t, df, count


def plan_tests(
    episodes: EpisodeBatch, models: list[DesignModel]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, df, n), each (trials, models), of every model of the plan on complete cases.

    Every moment a model needs is a sum over episodes of (outcome-side term) × (alliance-side
    term), each side zeroed where its scores are missing; one batched matrix product of the
    outcome sides [1, b, y, b², by, y²] of all outcomes with the alliance sides [1, w, w²] of all
    timepoints gives them for all models at once.
    """
    outcomes = list(dict.fromkeys(m.outcome for m in models))
    timepoints = list(dict.fromkeys(m.timepoint for m in models))
    trials, n = episodes.post[outcomes[0]].shape
    # Zero where a score is missing; values shifted by one constant per variable (the first
    # trial's observed mean), which leaves every regression unchanged and keeps moments small.
    left = np.empty((trials, 6 * len(outcomes), n))
    for i, o in enumerate(outcomes):
        b, y = episodes.baseline[o], episodes.post[o]
        missing = np.isnan(b + y)  # either score missing: NaN propagates through the sum
        part = left[:, 6 * i : 6 * i + 6]
        np.logical_not(missing, out=part[:, 0])
        np.subtract(b, _shift(b), out=part[:, 1])
        np.subtract(y, _shift(y), out=part[:, 2])
        np.putmask(part[:, 1], missing, 0.0)
        np.putmask(part[:, 2], missing, 0.0)
        np.multiply(part[:, 1], part[:, 1], out=part[:, 3])
        np.multiply(part[:, 1], part[:, 2], out=part[:, 4])
        np.multiply(part[:, 2], part[:, 2], out=part[:, 5])
    right = np.empty((trials, 3 * len(timepoints), n))
    for i, timepoint in enumerate(timepoints):
        w = episodes.alliance[timepoint]
        missing = np.isnan(w)
        part = right[:, 3 * i : 3 * i + 3]
        np.logical_not(missing, out=part[:, 0])
        np.subtract(w, _shift(w), out=part[:, 1])
        np.putmask(part[:, 1], missing, 0.0)
        np.multiply(part[:, 1], part[:, 1], out=part[:, 2])
    # (trials, 6O, n) @ (trials, n, 3T): the transposed operand is still one BLAS product each
    moments = np.matmul(left, np.swapaxes(right, 1, 2))
    rows = [6 * outcomes.index(m.outcome) for m in models]
    cols = [3 * timepoints.index(m.timepoint) for m in models]

    def at(i: int, j: int) -> np.ndarray:
        return moments[:, [r + i for r in rows], [c + j for c in cols]]

    count = at(0, 0)
    sums = {
        "b": at(1, 0), "y": at(2, 0), "bb": at(3, 0), "by": at(4, 0), "yy": at(5, 0),
        "w": at(0, 1), "bw": at(1, 1), "wy": at(2, 1), "ww": at(0, 2),
    }  # fmt: skip
    t, df = _t_from_moments(count, sums)
    return t, df, count


@lru_cache(maxsize=32)
def _cached_batch_model(key: tuple[Any, ...]) -> BatchModel:
    effects, errors, rate, mechanism, therapists, icc = key
    partial_r: dict[str, dict[str, float]] = {}
    for outcome, timepoint, r in effects:
        partial_r.setdefault(outcome, {})[timepoint] = r
    return build_batch_model(Scenario(partial_r, errors, rate, mechanism, therapists, icc))


def batch_model_for(scenario: Scenario) -> BatchModel:
    effects = tuple(
        (o, t, r)
        for o, values in sorted(scenario.partial_r.items())
        for t, r in sorted(values.items())
    )
    return _cached_batch_model(
        (
            effects,
            scenario.errors,
            scenario.missing_rate,
            scenario.missing_mechanism,
            scenario.therapists,
            scenario.icc,
        )
    )


def batch_size(n: int, models: int) -> int:
    """Replications drawn and fitted together: a function of N and the plan alone (never of the
    worker count), so a cell's draws, and hence its numbers, are fixed by its seed."""
    return max(1, min(CHUNK, BATCH_BYTES // (8 * n * (6 * models + 12))))


def chunk_streams(
    seed: np.random.SeedSequence, simulations: int
) -> list[tuple[int, np.random.Generator]]:
    """(size, generator) per chunk: chunk c draws from child c of the cell's seed sequence."""
    out = []
    for c, start in enumerate(range(0, simulations, CHUNK)):
        child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, c))
        out.append((min(CHUNK, simulations - start), np.random.default_rng(child)))
    return out


def batch_decisions(
    episodes: EpisodeBatch, models: list[DesignModel], method: str, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(survives correction, significant before it, complete-case n), each (trials, models)."""
    t, df, count = plan_tests(episodes, models)
    # Student's t survival function itself (what scipy.stats.t.sf evaluates), without the
    # distribution object's argument checks; a NaN t (model not estimable) gives a NaN p.
    p = 2 * special.stdtr(np.where(np.isnan(df), 1.0, df), -np.abs(t))
    adjusted = adjust_by_families(p, [m.family for m in models], method)
    with np.errstate(invalid="ignore"):
        return adjusted < alpha, p < alpha, count


def design_cell(
    n: int,
    scenario: Scenario,
    models: list[DesignModel],
    method: str,
    alpha: float,
    simulations: int,
    seed: np.random.SeedSequence,
) -> dict[str, Any]:
    """Power of the whole plan at N = ``n`` episodes (module docstring); a plain record."""
    if simulations < 1:
        raise ValueError(f"simulations must be 1 or more, not {simulations}")
    bm = batch_model_for(scenario)
    survive_counts = np.zeros(len(models))
    significant_counts = np.zeros(len(models))
    complete = np.zeros(len(models))
    any_count = all_count = 0
    batch = batch_size(n, len(models))
    for size, rng in chunk_streams(seed, simulations):
        for start in range(0, size, batch):
            trials = min(batch, size - start)
            episodes = draw_episodes(rng, bm, trials, n)
            survives, significant, count = batch_decisions(episodes, models, method, alpha)
            survive_counts += survives.sum(axis=0)
            significant_counts += significant.sum(axis=0)
            complete += count.sum(axis=0)
            any_count += int(survives.any(axis=1).sum())
            all_count += int(survives.all(axis=1).sum())

    def share(count: float) -> tuple[float, float]:
        p = count / simulations
        return p, math.sqrt(p * (1 - p) / simulations)

    family_any, family_any_se = share(any_count)
    family_all, family_all_se = share(all_count)
    rows = []
    for j, m in enumerate(models):
        power, se = share(float(survive_counts[j]))
        rows.append(
            {
                "outcome": m.outcome,
                "timepoint": m.timepoint,
                "partial_r": scenario.partial_r[m.outcome][m.timepoint],
                "power": power,
                "mc_se": se,
                "power_unadjusted": significant_counts[j] / simulations,
                "mean_n": complete[j] / simulations,
            }
        )
    return {
        "n": n,
        "simulations": simulations,
        "family_any": family_any,
        "family_all": family_all,
        "family_any_mc_se": family_any_se,
        "family_all_mc_se": family_all_se,
        "models": rows,
    }
