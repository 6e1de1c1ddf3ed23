"""Fit every model a plan declares on the episode frame, then correct for multiplicity.

Each model uses its own complete cases (the article's practice); the baseline-only model that ΔR² and f² are
measured against is fitted on exactly the same cases. Who was left out of which model, and why,
is returned alongside so the ledger can account for every participant.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import AnalysisError
from alliance.inference.bayes_factor import log_bf10
from alliance.inference.bootstrap import bca_bootstrap
from alliance.inference.diagnostics import diagnostics
from alliance.inference.freedman_lane import freedman_lane_p
from alliance.inference.influence import dfbeta, flip_matrix, leave_one_out_p
from alliance.inference.multiplicity import adjust_by_family
from alliance.inference.robust_se import hc3_tests
from alliance.instruments.labels import missing_text
from alliance.models.ols import OLSFit, alliance_term_stats, fit_ols
from alliance.models.plan import AnalysisPlan, InferenceSpec, ModelSpec

# A case whose leverage is 1 up to rounding fits its own coefficient exactly (a dummy that is 1 for
# that case alone): its residual is 0 and HC3, Cook's distance and DFBETA divide by 1 − h = 0.
LEVERAGE_TOL = 1e-8


@dataclass(frozen=True)
class ModelData:
    """The arrays one model is fitted on, with the participants they came from."""

    spec: ModelSpec
    y: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    term: int  # column of the alliance term in X
    participant_ids: tuple[str, ...]
    excluded: dict[str, str]  # participant_id -> reason
    # The term of each column of X: a categorical covariate's dummies share the covariate's
    # name. Empty means each column is its own term.
    terms: tuple[str, ...] = ()

    @property
    def column_terms(self) -> tuple[str, ...]:
        return self.terms or self.names


@dataclass(frozen=True)
class ModelResult:
    data: ModelData
    fit: OLSFit
    reduced: OLSFit
    term_stats: dict[str, float]
    p_adjusted: float = float("nan")
    survives_correction: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> ModelSpec:
        return self.data.spec


def _covariate_columns(frame: pd.DataFrame, covariate: str) -> tuple[pd.DataFrame, list[str]]:
    """Numeric covariates enter as they are; categorical ones as treatment-coded dummies.

    Levels are sorted and the first is the reference, as R's ``lm`` does with a factor, so the
    estimates agree with R term for term.
    """
    values = frame[covariate]
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return pd.DataFrame({covariate: numeric.astype("float64")}), [covariate]
    levels = sorted(str(v) for v in values.dropna().unique())
    dummies = {}
    for level in levels[1:]:
        name = f"{covariate}[{level}]"
        column = (values.astype("string") == level).astype("float64")
        dummies[name] = column.where(values.notna())
    return pd.DataFrame(dummies, index=frame.index), list(dummies)


def _missing_reason(
    row: pd.Series, columns: list[str], reasons: dict[str, str], names: dict[str, str]
) -> str:
    """Each missing variable in words ("WAI total missing at session 9"), as the ledger shows."""
    missing = [c for c in columns if pd.isna(row[c])]
    return "; ".join(reasons.get(c) or missing_text(c, names) for c in missing)


def model_data(
    episodes: pd.DataFrame,
    spec: ModelSpec,
    missing_reasons: dict[tuple[str, str], str] | None = None,
) -> ModelData:
    """Complete cases and design matrix for one model.

    ``missing_reasons`` maps (participant_id, column) to a more specific reason than "missing"
    (e.g. too few items answered), as the scoring stage knows it.
    """
    frame = episodes.set_index("participant_id", drop=False)
    design = pd.DataFrame(
        {
            "baseline": frame[spec.baseline_column].astype("float64"),
            spec.predictor.score: frame[spec.predictor_column].astype("float64"),
        },
        index=frame.index,
    )
    needed = [spec.response_column, spec.baseline_column, spec.predictor_column]
    terms = ["intercept", "baseline", spec.predictor.score]
    for covariate in spec.covariates:
        column = "episode_phase" if covariate == "phase" else covariate
        block, _ = _covariate_columns(frame, column)
        design = pd.concat([design, block], axis=1)
        needed.append(column)
        terms += [covariate] * block.shape[1]
    y = frame[spec.response_column].astype("float64")
    complete = y.notna() & design.notna().all(axis=1)
    excluded: dict[str, str] = {}
    lookup = missing_reasons or {}
    labels = {spec.outcome.score: spec.outcome.label, spec.predictor.score: spec.predictor.label}
    plan_labels = {score: label for score, label in labels.items() if label}
    for pid in frame.index[~complete.to_numpy()]:
        specific = {c: lookup[(pid, c)] for c in needed if (pid, c) in lookup}
        excluded[str(pid)] = _missing_reason(frame.loc[pid], needed, specific, plan_labels)
    kept = frame.index[complete.to_numpy()]
    X = np.column_stack([np.ones(len(kept)), design.loc[kept].to_numpy(dtype="float64")])
    names = ("intercept", *design.columns)
    return ModelData(
        spec=spec,
        y=y.loc[kept].to_numpy(dtype="float64"),
        X=X,
        names=tuple(str(n) for n in names),
        term=2,
        participant_ids=tuple(str(p) for p in kept),
        excluded=excluded,
        terms=tuple(terms),
    )


def robust_companions(
    data: ModelData, fit: OLSFit, inference: InferenceSpec, level: float, seed: tuple[int, ...]
) -> dict[str, dict[str, Any]]:
    """HC3, BCa bootstrap, Freedman–Lane and JZS Bayes factor for the alliance term.

    ``term`` holds the scalar companions of the classical statistics (results.json adds them to
    the alliance term); the other entries say how they were computed.
    """
    hc3_se, hc3_p = hc3_tests(fit, data.X)
    term: dict[str, Any] = {
        "hc3_std_error": float(hc3_se[data.term]),
        "hc3_p": float(hc3_p[data.term]),
    }
    extras: dict[str, dict[str, Any]] = {"term": term}
    if inference.bootstrap > 0:
        boot = bca_bootstrap(data.y, data.X, data.term, inference.bootstrap, seed, level)
        term["bootstrap_ci_low"] = boot.ci_low
        term["bootstrap_ci_high"] = boot.ci_high
        extras["bootstrap"] = {
            "method": "BCa, case resampling",
            "level": level,
            "resamples": inference.bootstrap,
            "resamples_used": boot.replicates_used,
            "resamples_rank_deficient": boot.replicates_dropped,
        }
    if inference.permutations > 0:
        term["permutation_p"] = freedman_lane_p(
            data.y, data.X, data.term, inference.permutations, seed
        )
    if inference.bayes_factor:
        extras["bayes_factor"] = {
            "prior": "JZS (Zellner–Siow), one g shared by all predictors "
            "(treatment-coded dummies of a categorical covariate included)",
            "rscale": inference.bf_rscale,
        }
        try:
            log_bf = log_bf10(data.y, data.X, data.term, inference.bf_rscale)
        except ValueError as exc:  # e.g. an outcome with no variation among these cases
            term["bf10"] = float("nan")
            extras["bayes_factor"]["not_computed"] = str(exc)
        else:
            # The log is exact; the BF itself is infinite past a double's range.
            term["bf10"] = math.exp(log_bf) if log_bf < math.log(sys.float_info.max) else math.inf
            extras["bayes_factor"]["log_bf10"] = log_bf
    return extras


def fit_model(
    data: ModelData,
    alpha: float,
    inference: InferenceSpec | None = None,
    seed: tuple[int, ...] = (0,),
) -> ModelResult:
    """The full and baseline-only fits of one model, its alliance statistics and diagnostics.

    A model the data cannot support (too few complete cases, collinear terms) is bad input for
    that plan, reported with the model and the reason rather than as a crash.
    """
    inference = inference or InferenceSpec(permutations=0, bootstrap=0, bayes_factor=False)
    keep = [i for i in range(data.X.shape[1]) if i != data.term]
    n, p = data.X.shape
    if p < n < p + 2:
        # Leave-one-out influence refits every model without each participant in turn: with
        # n = p + 1 each refit is an exact fit with no residual degrees of freedom.
        raise AnalysisError(
            data.spec.key,
            f"has {n} complete cases for {p} coefficients; at least {p + 2} are needed so that "
            "the model can still be estimated without any one participant (influence). Fix: "
            "check the ledger for why participants were excluded, or drop a covariate",
        )
    try:
        fit = fit_ols(data.y, data.X, data.names, alpha=alpha)
        reduced = fit_ols(data.y, data.X[:, keep], [data.names[i] for i in keep], alpha=alpha)
    except ValueError as exc:
        raise AnalysisError(
            data.spec.key,
            f"cannot be fitted on {len(data.y)} complete cases: {exc}. "
            "Fix: check the ledger for why participants were excluded, or drop this model "
            "or covariate from the plan",
        ) from None
    alone = np.flatnonzero(fit.leverage > 1.0 - LEVERAGE_TOL)
    if len(alone):
        ids = ", ".join(f"'{data.participant_ids[i]}'" for i in alone[:5])
        raise AnalysisError(
            data.spec.key,
            f"participant(s) {ids} each determine a coefficient on their own (leverage 1, e.g. "
            "the only participant in a level of a categorical covariate), so their residual is 0 "
            "and robust standard errors and influence are undefined. Fix: merge rare covariate "
            "levels, or drop that covariate from the plan",
        )
    stats = alliance_term_stats(fit, reduced, data.names[data.term])
    checks = diagnostics(fit, data.X, data.participant_ids, data.column_terms)
    extras = robust_companions(data, fit, inference, 1.0 - alpha, seed)
    return ModelResult(
        data=data,
        fit=fit,
        reduced=reduced,
        term_stats=stats,
        extras={"diagnostics": checks, **extras},
    )


def families(results: list[ModelResult], family: str) -> list[str]:
    """The multiplicity family label of each model."""
    if family == "all":
        return ["all"] * len(results)
    return [r.spec.outcome.score for r in results]


def apply_multiplicity(results: list[ModelResult], plan: AnalysisPlan) -> list[ModelResult]:
    """Adjusted p-values of the alliance terms, within the plan's families."""
    p = np.array([r.fit.p[r.data.term] for r in results], dtype="float64")
    labels = families(results, plan.multiplicity.family)
    adjusted = adjust_by_family(p, labels, plan.multiplicity.method)
    results = [
        replace(r, p_adjusted=float(a), survives_correction=bool(a < plan.alpha))
        for r, a in zip(results, adjusted, strict=True)
    ]
    if plan.inference.adjust_permutation_p and plan.inference.permutations > 0:
        perm = np.array([r.extras["term"]["permutation_p"] for r in results], dtype="float64")
        perm_adjusted = adjust_by_family(perm, labels, plan.multiplicity.method)
        results = [
            replace(r, extras={**r.extras, "term": {**r.extras["term"],
                                                    "permutation_p_adjusted": float(a)}})
            for r, a in zip(results, perm_adjusted, strict=True)
        ]  # fmt: skip
    return results


def with_influence(results: list[ModelResult], plan: AnalysisPlan) -> list[ModelResult]:
    """Leave-one-out DFBETA, Cook's distance, p and conclusion flips for every participant.

    A flip is judged with the plan's correction over the plan's families, as the paper's
    conclusion is: for each participant, the alliance p of every model without them (each
    model's p unchanged where they are not in it), corrected again. Every step is closed-form
    or vectorised across participants, so the cost grows linearly with their number.
    """
    labels = families(results, plan.multiplicity.family)
    p_without = [leave_one_out_p(r.data.y, r.data.X, r.data.term) for r in results]
    p_full = [float(r.fit.p[r.data.term]) for r in results]
    participants = pd.Index(sorted({pid for r in results for pid in r.data.participant_ids}))
    rows_of = [participants.get_indexer(pd.Index(r.data.participant_ids)) for r in results]
    matrix = np.tile(np.asarray(p_full, dtype="float64"), (len(participants), 1))
    for k, at in enumerate(rows_of):
        matrix[at, k] = p_without[k]
    flips = flip_matrix(p_full, matrix, labels, plan.multiplicity.method, plan.alpha)
    out = []
    for k, r in enumerate(results):
        changes = dfbeta(r.data.X, r.fit.residuals, r.fit.leverage, r.data.term)
        cooks = np.asarray(r.extras["diagnostics"]["cooks_distance"], dtype="float64")
        columns = zip(
            r.data.participant_ids,
            changes.tolist(),
            cooks.tolist(),
            p_without[k].tolist(),
            flips[rows_of[k], k].tolist(),
            strict=True,
        )
        influence = [
            {
                "participant_id": pid,
                "dfbeta": change,
                "cooks_distance": cook,
                "p_without": p,
                "changes_conclusion": flip,
            }
            for pid, change, cook, p, flip in columns
        ]
        out.append(replace(r, extras={**r.extras, "influence": influence}))
    return out


def fit_plan(
    episodes: pd.DataFrame,
    plan: AnalysisPlan,
    missing_reasons: dict[tuple[str, str], str] | None = None,
    seed: int = 0,
) -> list[ModelResult]:
    """Every model of the plan, fitted and corrected for multiplicity.

    Model ``k`` draws its permutations and bootstrap resamples from the streams of
    ``(seed, k)``, so each model's result depends only on the seed and its place in the plan.
    """
    results = [
        fit_model(
            model_data(episodes, spec, missing_reasons),
            plan.alpha,
            plan.inference,
            (seed, k),
        )
        for k, spec in enumerate(plan.model_specs())
    ]
    return with_influence(apply_multiplicity(results, plan), plan)
