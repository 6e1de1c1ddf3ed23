"""What ``results.json`` says about missing data (``missing_data``, and the pooled models).

Complete cases: each model says ``missing_method: "complete_cases"`` and ``missing_data``
records the method. Multiple imputation: each model's numbers are the pooled ones
(``missing_method: "multiple_imputation"``, ``imputations``, ``n`` = episodes used, observed and
imputed; the alliance term adds ``df``, ``fmi``, ``riv``, ``lambda``), and its complete-case
record, robust companions included, moves under ``complete_cases``: the robust companions are
not pooled, so they appear only there. ``missing_data`` holds the pattern, the observed and
imputed distributions, the convergence traces, the side-by-side comparison and the
sensitivity analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from alliance.missing.analysis import ROBUST_NOTE, MultipleImputation, PooledModel

if TYPE_CHECKING:
    from alliance.pipeline import Analysis

# Keys of a complete-case model record that describe the model rather than its estimates:
# they stay at the top of a pooled model's record.
IDENTITY = ("key", "label", "outcome", "predictor", "timepoint", "covariates", "adjust_method",
            "adjust_family")  # fmt: skip
EFFECT_SIZES = (
    "R² and adjusted R² pooled as mice::pool.r.squared (Harel 2009): Fisher z of sqrt(R²) "
    "averaged over imputations, back-transformed and squared (a negative adjusted R² counts as 0); delta_r_squared = pooled R² of the "
    "full model minus pooled R² of the baseline-only model; f_squared = delta_r_squared / "
    "(1 - pooled R²); partial_r averaged on Fisher's z; std_beta averaged over imputations"
)


def pattern(missing: np.ndarray, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Distinct patterns of missing variables and how many episodes have each (most first)."""
    rows, counts = np.unique(missing, axis=0, return_counts=True)
    order = sorted(range(len(rows)), key=lambda i: (-counts[i], rows[i].sum(), rows[i].tolist()))
    return [
        {
            "episodes": int(counts[i]),
            "missing": [c for c, gap in zip(columns, rows[i], strict=True) if gap],
        }
        for i in order
    ]


def variable_records(result: MultipleImputation) -> list[dict[str, Any]]:
    """Per imputed variable: how much is missing and the observed against imputed values."""
    imputed = result.imputed
    assert imputed is not None
    records = []
    for j, column in enumerate(imputed.columns):
        gap = imputed.missing[:, j]
        observed = imputed.observed[~gap, j]
        values = imputed.values[:, gap, j].ravel()
        records.append(
            {
                "name": column,
                "observed": int((~gap).sum()),
                "missing": int(gap.sum()),
                "observed_mean": float(observed.mean()),
                "observed_sd": float(observed.std(ddof=1)) if len(observed) > 1 else None,
                "imputed_mean": float(values.mean()) if len(values) else None,
                "imputed_sd": float(values.std(ddof=1)) if len(values) > 1 else None,
            }
        )
    return records


def convergence_records(result: MultipleImputation) -> list[dict[str, Any]]:
    """Per incomplete variable: mean and SD of its imputed values, iterations × chains."""
    imputed = result.imputed
    assert imputed is not None
    return [
        {
            "name": column,
            "mean": imputed.chain_mean[j].tolist(),
            "sd": imputed.chain_sd[j].tolist(),
        }
        for j, column in enumerate(imputed.columns)
        if imputed.missing[:, j].any()
    ]


def pooled_terms(model: PooledModel) -> list[dict[str, Any]]:
    p = model.pooled
    return [
        {
            "name": name,
            "estimate": p.estimate[i],
            "std_error": p.std_error[i],
            "t": p.statistic[i],
            "p": p.p[i],
            "ci_low": p.ci_low[i],
            "ci_high": p.ci_high[i],
            "std_beta": model.std_beta[i],
            "df": p.df[i],
            "fmi": p.fmi[i],
            "riv": p.riv[i],
            "lambda": p.lambda_[i],
        }
        for i, name in enumerate(model.names)
    ]


def pooled_record(
    model: PooledModel, complete: dict[str, Any], imputations: int, ids: tuple[str, ...]
) -> dict[str, Any]:
    record = {key: complete[key] for key in IDENTITY if key in complete}
    record.update(
        {
            "missing_method": "multiple_imputation",
            "imputations": imputations,
            "n": model.n,
            "r_squared": model.r_squared.estimate,
            "adj_r_squared": model.adj_r_squared.estimate,
            "delta_r_squared": model.delta_r_squared,
            "f_squared": model.f_squared,
            "partial_r": model.partial_r.estimate,
            "p_adjusted": model.p_adjusted,
            "survives_correction": model.survives_correction,
            "terms": pooled_terms(model),
            "participants": list(ids),
            "robust_companions": "complete_cases_only",
            "complete_cases": {**complete, "missing_method": "complete_cases"},
        }
    )
    return record


def comparison(result: MultipleImputation, complete: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Complete cases and multiple imputation side by side, one row per model."""
    rows = []
    for model, cc in zip(result.models, complete, strict=True):
        term = next(t for t in cc["terms"] if t["name"] == model.names[model.term])
        j = model.term
        rows.append(
            {
                "key": model.spec.key,
                "complete_cases": {
                    "n": cc["n"],
                    "estimate": term["estimate"],
                    "std_error": term["std_error"],
                    "p": term["p"],
                    "p_adjusted": cc["p_adjusted"],
                    "survives_correction": cc["survives_correction"],
                    "delta_r_squared": cc["delta_r_squared"],
                },
                "multiple_imputation": {
                    "n": model.n,
                    "estimate": model.pooled.estimate[j],
                    "std_error": model.pooled.std_error[j],
                    "p": model.pooled.p[j],
                    "p_adjusted": model.p_adjusted,
                    "survives_correction": model.survives_correction,
                    "delta_r_squared": model.delta_r_squared,
                    "df": model.pooled.df[j],
                    "fmi": model.pooled.fmi[j],
                },
            }
        )
    return rows


def missing_data_record(analysis: Analysis, complete: list[dict[str, Any]]) -> dict[str, Any]:
    plan = analysis.plan
    result = analysis.missing
    record: dict[str, Any] = {"method": plan.missing_data}
    if result is None:
        return record
    record["performed"] = result.performed
    if not result.performed:
        record["note"] = result.note
        return record
    assert result.imputed is not None and result.frame is not None
    imputed = result.imputed
    record.update(
        {
            "imputations": imputed.imputations,
            "iterations": imputed.iterations,
            "donors": imputed.donors,
            "imputation_method": "chained equations, predictive mean matching (Bayesian "
            "linear regression draw, type-1 matching, one of the nearest donors drawn)",
            "visit_sequence": list(imputed.columns),
            "complete_predictors": list(result.frame.complete_names),
            "seed_streams": "imputation j (0-based) draws from child j of "
            "SeedSequence([seed, 14]).spawn(imputations)",
            "episodes": len(result.frame.participant_ids),
            "excluded": [
                {"participant_id": pid, "reason": why} for pid, why in result.frame.excluded.items()
            ],
            "pooling": "Rubin's rules, Barnard-Rubin df with dfcom = n - p (as mice::pool)",
            "effect_sizes": EFFECT_SIZES,
            "robust_companions": ROBUST_NOTE,
            "pattern": pattern(imputed.missing, imputed.columns),
            "variables": variable_records(result),
            "convergence": convergence_records(result),
            "comparison": comparison(result, complete),
            "sensitivity": result.sensitivity,
        }
    )
    return record


def with_missing_data(document: dict[str, Any], analysis: Analysis) -> dict[str, Any]:
    """``document`` with ``missing_data`` and, under multiple imputation, the pooled models."""
    complete = [{**m, "missing_method": "complete_cases"} for m in document["models"]]
    result = analysis.missing
    models = complete
    if result is not None and result.performed:
        assert result.imputed is not None and result.frame is not None
        models = [
            pooled_record(p, cc, result.imputed.imputations, result.frame.participant_ids)
            for p, cc in zip(result.models, complete, strict=True)
        ]
    missing = missing_data_record(analysis, complete)
    return {**document, "models": models, "missing_data": missing}
