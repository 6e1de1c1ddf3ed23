"""The plan's models on multiply imputed data: impute, fit on every completed dataset, pool.

What is imputed (docs/missing-data.md): for each episode, the plan's scored variables (baseline and post of
every outcome, every alliance timepoint of every predictor) and its numeric covariates, so the
outcome informs the imputation of alliance and the other way round. Categorical covariates
(and the episode's phase) enter as complete predictors; an episode whose categorical covariate
is missing is left out of every model and says why (a category is not imputed by matching).

Each model is fitted on each completed dataset and pooled by Rubin's rules (``pooling.py``);
the plan's multiplicity correction then runs on the pooled p-values. Effect sizes: R² and
adjusted R² pooled as ``mice::pool.r.squared`` (Harel 2009); ΔR² is the pooled R² of the full
model minus the pooled R² of the baseline-only model, f² = ΔR² / (1 − pooled R²), and the partial
r is averaged on Fisher's z (its sign kept). The robust companions (HC3, BCa bootstrap,
permutation, Bayes factor, influence) are not pooled: they stay on complete cases, and every
output says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import AnalysisError, PlanError
from alliance.inference.multiplicity import adjust_by_family
from alliance.missing.batch import batch_ols
from alliance.missing.chained import Imputed, impute
from alliance.missing.pooling import (
    Pooled,
    PooledCorrelation,
    pool_fisher_z,
    pool_r_squared,
    rubin_pool,
)
from alliance.models.plan import AnalysisPlan, ModelSpec

ROBUST_NOTE = (
    "HC3, bootstrap, permutation, Bayes factor and influence are computed on complete cases "
    "only; they are not pooled over imputations"
)


@dataclass(frozen=True)
class ImputationFrame:
    """The episodes and variables that are imputed, and the complete predictors beside them."""

    participant_ids: tuple[str, ...]
    columns: tuple[str, ...]  # imputed variables, in the visit sequence
    observed: np.ndarray  # episodes × columns, NaN = missing
    complete: np.ndarray  # episodes × dummies of categorical covariates
    complete_names: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]  # covariate -> its dummy names
    excluded: dict[str, str]  # participant_id -> reason
    alliance_columns: tuple[str, ...]
    outcome_columns: tuple[str, ...]  # post of each outcome


@dataclass(frozen=True, eq=False)
class PooledModel:
    spec: ModelSpec
    names: tuple[str, ...]
    term: int
    n: int
    pooled: Pooled
    r_squared: PooledCorrelation
    adj_r_squared: PooledCorrelation
    reduced_r_squared: PooledCorrelation
    partial_r: PooledCorrelation
    std_beta: np.ndarray  # mean over imputations of b · sd(x) / sd(y)
    p_adjusted: float = float("nan")
    survives_correction: bool = False

    @property
    def delta_r_squared(self) -> float:
        return self.r_squared.estimate - self.reduced_r_squared.estimate

    @property
    def f_squared(self) -> float:
        return self.delta_r_squared / (1.0 - self.r_squared.estimate)


@dataclass(frozen=True, eq=False)
class MultipleImputation:
    """Everything the outputs need about the multiple imputation of one analysis."""

    performed: bool
    note: str  # why it was not performed, or ""
    frame: ImputationFrame | None = None
    imputed: Imputed | None = None
    models: list[PooledModel] = field(default_factory=list)
    sensitivity: dict[str, Any] = field(default_factory=dict)


def _is_numeric(values: pd.Series) -> bool:
    numeric = pd.to_numeric(values, errors="coerce")
    return bool(numeric.notna().sum() == values.notna().sum())


def imputation_frame(episodes: pd.DataFrame, plan: AnalysisPlan) -> ImputationFrame:
    """The variables imputed for ``plan`` and the episodes they are imputed for."""
    columns: list[str] = []
    outcomes = []
    for outcome in plan.outcomes:
        columns += [f"{outcome.score}__{outcome.baseline}", f"{outcome.score}__{outcome.post}"]
        outcomes.append(f"{outcome.score}__{outcome.post}")
    alliance = [f"{p.score}__{t}" for p in plan.predictors for t in p.timepoints]
    columns += alliance
    categorical: dict[str, str] = {}
    for covariate in plan.covariates:
        column = "episode_phase" if covariate == "phase" else covariate
        if _is_numeric(episodes[column]):
            columns.append(column)
        else:
            categorical[covariate] = column
    columns = list(dict.fromkeys(columns))
    keep = pd.Series(True, index=episodes.index)
    excluded: dict[str, str] = {}
    for covariate, column in categorical.items():
        gap = episodes[column].isna()
        for pid in episodes.loc[gap, "participant_id"]:
            excluded[str(pid)] = f"{covariate} missing (a categorical covariate is not imputed)"
        keep &= ~gap
    kept = episodes.loc[keep]
    dummies: list[np.ndarray] = []
    names: list[str] = []
    groups: dict[str, tuple[str, ...]] = {}
    for covariate, column in categorical.items():
        values = kept[column].astype("string")
        levels = sorted(str(v) for v in values.dropna().unique())
        group = []
        for level in levels[1:]:
            names.append(f"{covariate}[{level}]")
            group.append(names[-1])
            dummies.append((values == level).to_numpy(dtype="float64"))
        groups[covariate] = tuple(group)
    observed = kept[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    complete = np.column_stack(dummies) if dummies else np.empty((len(kept), 0))
    return ImputationFrame(
        participant_ids=tuple(str(p) for p in kept["participant_id"]),
        columns=tuple(columns),
        observed=observed,
        complete=complete,
        complete_names=tuple(names),
        categorical=groups,
        excluded=excluded,
        alliance_columns=tuple(alliance),
        outcome_columns=tuple(outcomes),
    )


def _design(
    values: np.ndarray, frame: ImputationFrame, spec: ModelSpec
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """y (m × n) and X (m × n × p) of one model on every completed dataset."""
    at = {c: i for i, c in enumerate(frame.columns)}
    m, n, _ = values.shape
    blocks = [np.ones((m, n)), values[:, :, at[spec.baseline_column]],
              values[:, :, at[spec.predictor_column]]]  # fmt: skip
    names = ["intercept", "baseline", spec.predictor.score]
    for covariate in spec.covariates:
        column = "episode_phase" if covariate == "phase" else covariate
        if column in at:
            blocks.append(values[:, :, at[column]])
            names.append(covariate)
            continue
        for name in frame.categorical[covariate]:
            j = frame.complete_names.index(name)
            blocks.append(np.broadcast_to(frame.complete[:, j], (m, n)))
            names.append(name)
    X = np.stack(blocks, axis=2)
    return values[:, :, at[spec.response_column]], X, tuple(names)


def pool_model(
    values: np.ndarray, frame: ImputationFrame, spec: ModelSpec, level: float
) -> PooledModel:
    """One model fitted on every completed dataset and pooled."""
    y, X, names = _design(values, frame, spec)
    term = 2
    try:
        full = batch_ols(y, X)
        reduced = batch_ols(y, np.delete(X, term, axis=2))
    except ValueError as exc:
        raise AnalysisError(
            spec.key,
            f"cannot be fitted on the imputed data: {exc}. Fix: drop a covariate or this model "
            "from the plan",
        ) from None
    pooled = rubin_pool(full.estimate, full.variance, full.df_resid, level)
    t = full.estimate[:, term] / np.sqrt(full.variance[:, term])
    partial = t / np.sqrt(t**2 + full.df_resid)
    controlled = X.shape[2] - 2  # variables partialled out besides the intercept
    return PooledModel(
        spec=spec,
        names=names,
        term=term,
        n=full.n,
        pooled=pooled,
        r_squared=pool_r_squared(full.r_squared, full.n),
        adj_r_squared=pool_r_squared(np.maximum(full.adj_r_squared, 0.0), full.n),
        reduced_r_squared=pool_r_squared(reduced.r_squared, full.n),
        partial_r=pool_fisher_z(partial, max(full.n - controlled, 4)),
        std_beta=_std_beta(full.estimate, X, y),
    )


def _std_beta(estimate: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Standardised betas per imputation, averaged; NaN for the intercept (as the OLS fit)."""
    sd_x = X.std(axis=1, ddof=1)
    sd_y = y.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = estimate * sd_x / sd_y[:, None]
    beta[:, sd_x.max(axis=0) == 0] = np.nan
    return np.asarray(beta.mean(axis=0))


def family_labels(specs: list[ModelSpec], family: str) -> list[str]:
    return ["all"] * len(specs) if family == "all" else [s.outcome.score for s in specs]


def corrected(models: list[PooledModel], plan: AnalysisPlan) -> list[PooledModel]:
    """The plan's multiplicity correction on the pooled p-values of the alliance terms."""
    p = np.array([m.pooled.p[m.term] for m in models], dtype="float64")
    labels = family_labels([m.spec for m in models], plan.multiplicity.family)
    adjusted = adjust_by_family(p, labels, plan.multiplicity.method)
    return [
        replace(m, p_adjusted=float(a), survives_correction=bool(a < plan.alpha))
        for m, a in zip(models, adjusted, strict=True)
    ]


def fit_pooled(values: np.ndarray, frame: ImputationFrame, plan: AnalysisPlan) -> list[PooledModel]:
    models = [pool_model(values, frame, s, 1.0 - plan.alpha) for s in plan.model_specs()]
    return corrected(models, plan)


def multiple_imputation(
    episodes: pd.DataFrame, plan: AnalysisPlan, seed: int, workers: int = 1
) -> MultipleImputation:
    """Impute, fit and pool every model of ``plan``; the δ-adjusted sensitivity analysis too.

    With nothing missing among the imputed variables there is nothing to impute: the result
    says so and the complete-case models stand.
    """
    from alliance.missing.tipping import tipping_points

    frame = imputation_frame(episodes, plan)
    if not np.isnan(frame.observed).any():
        return MultipleImputation(
            performed=False,
            note="the plan asks for multiple imputation, but no score the models use is "
            "missing for any episode: the complete-case results are the analysis",
        )
    empty = [
        c for c, col in zip(frame.columns, frame.observed.T, strict=True) if np.isnan(col).all()
    ]
    if empty:
        raise PlanError(
            "plan",
            [
                f"multiple imputation: '{c}' is missing for every episode, so there is "
                "nothing to impute it from. Fix: check the data hold it, or remove it from the "
                "plan (or analyse complete cases)"
                for c in empty
            ],
        )
    imputed = impute(
        frame.observed,
        frame.columns,
        plan.imputations,
        plan.iterations,
        (seed, 14),
        complete=frame.complete,
        workers=workers,
    )
    models = fit_pooled(imputed.values, frame, plan)
    sensitivity = tipping_points(imputed, frame, plan, models)
    return MultipleImputation(True, "", frame, imputed, models, sensitivity)
