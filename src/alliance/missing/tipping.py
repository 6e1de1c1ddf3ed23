"""δ-adjusted sensitivity analysis: how far from "missing at random" do the conclusions hold?

Multiple imputation assumes the missing scores are like the observed ones given everything else
recorded (missing at random). If participants who miss a visit are doing worse than that, the
imputed values are too optimistic. The δ adjustment (van Buuren 2018, *Flexible Imputation of
Missing Data*, 2nd ed., §9.2; Carpenter & Kenward 2013, ch. 10) shifts every imputed value by δ
standard deviations of its variable's observed values and redoes the pooled analysis, the
multiplicity correction included, over a grid of δ:

- ``alliance``: imputed alliance scores (every timepoint) shifted, outcomes as imputed;
- ``outcome``: imputed post-treatment outcome scores shifted, alliance as imputed;
- ``both``: both shifted by the same δ.

δ < 0 means the missing values are lower than the imputation model predicts (on the WAI: a
weaker alliance; on CAPS or IES-R: less severe symptoms). A model's tipping point on a shift is
the δ nearest to 0 on the grid at which its corrected conclusion (survives correction or not)
differs from the one under missing at random; ``null`` when none on the grid does. The shift is
applied to the completed datasets after imputation (not inside the chains), so the grid costs
refits only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from alliance.inference.multiplicity import adjust_by_family
from alliance.missing.batch import batch_ols
from alliance.missing.chained import Imputed
from alliance.missing.pooling import rubin_pool

if TYPE_CHECKING:
    from alliance.missing.analysis import ImputationFrame, PooledModel
    from alliance.models.plan import AnalysisPlan

DELTAS = tuple(round(-2.0 + 0.1 * i, 1) for i in range(41))  # −2 … 2 SD in steps of 0.1
SHIFTS = ("alliance", "outcome", "both")


def shifted(imputed: Imputed, columns: tuple[str, ...], delta: float) -> np.ndarray:
    """The completed datasets with the imputed cells of ``columns`` moved by δ observed SDs."""
    values = imputed.values.copy()
    for column in columns:
        j = imputed.columns.index(column)
        sd = float(np.nanstd(imputed.observed[:, j], ddof=1))
        if not np.isfinite(sd):
            sd = 0.0
        values[:, imputed.missing[:, j], j] += delta * sd
    return values


def _alliance_tests(
    values: np.ndarray, frame: ImputationFrame, plan: AnalysisPlan
) -> list[tuple[float, float]]:
    """Pooled estimate and p of each model's alliance term on these completed datasets."""
    from alliance.missing.analysis import _design

    out = []
    for spec in plan.model_specs():
        y, X, _ = _design(values, frame, spec)
        fit = batch_ols(y, X)
        pooled = rubin_pool(fit.estimate[:, 2:3], fit.variance[:, 2:3], fit.df_resid)
        out.append((float(pooled.estimate[0]), float(pooled.p[0])))
    return out


def _nearest_change(deltas: list[float], changed: list[bool], sign: int) -> float | None:
    """The δ nearest to 0 on one side whose conclusion differs from δ = 0."""
    side = [(abs(d), d) for d, c in zip(deltas, changed, strict=True) if c and d * sign > 0]
    return min(side)[1] if side else None


def tipping_points(
    imputed: Imputed, frame: ImputationFrame, plan: AnalysisPlan, models: list[PooledModel]
) -> dict[str, Any]:
    """The sensitivity grid and, per model and shift, the tipping δ (results.json's
    ``multiple_imputation.sensitivity``)."""
    from alliance.missing.analysis import family_labels

    specs = plan.model_specs()
    labels = family_labels(specs, plan.multiplicity.family)
    targets = {
        "alliance": frame.alliance_columns,
        "outcome": frame.outcome_columns,
        "both": frame.alliance_columns + frame.outcome_columns,
    }
    at_mar = [m.survives_correction for m in models]
    grid: list[dict[str, Any]] = []
    conclusions: dict[str, list[list[bool]]] = {s: [] for s in SHIFTS}
    for shift in SHIFTS:
        for delta in DELTAS:
            tests = _alliance_tests(shifted(imputed, targets[shift], delta), frame, plan)
            p = np.array([t[1] for t in tests])
            adjusted = adjust_by_family(p, labels, plan.multiplicity.method)
            survives = [bool(a < plan.alpha) for a in adjusted]
            conclusions[shift].append(survives)
            grid.append(
                {
                    "shift": shift,
                    "delta": delta,
                    "models": [
                        {
                            "key": spec.key,
                            "estimate": est,
                            "p": pv,
                            "p_adjusted": float(a),
                            "survives_correction": s,
                        }
                        for spec, (est, pv), a, s in zip(
                            specs, tests, adjusted, survives, strict=True
                        )
                    ],
                }
            )
    deltas = list(DELTAS)
    points = []
    for k, spec in enumerate(specs):
        record: dict[str, Any] = {"key": spec.key, "survives_correction_at_mar": at_mar[k]}
        nearest: list[tuple[float, str, float]] = []
        for shift in SHIFTS:
            changed = [row[k] != at_mar[k] for row in conclusions[shift]]
            below = _nearest_change(deltas, changed, -1)
            above = _nearest_change(deltas, changed, +1)
            record[shift] = {"below": below, "above": above}
            nearest += [(abs(d), shift, d) for d in (below, above) if d is not None]
        best = min(nearest) if nearest else None
        record["tipping_delta"] = best[2] if best else None
        record["tipping_shift"] = best[1] if best else None
        points.append(record)
    return {
        "method": "delta adjustment: imputed values shifted by delta SDs of the variable's "
        "observed values after imputation, pooled analysis and correction redone",
        "deltas": deltas,
        "shifts": {s: list(targets[s]) for s in SHIFTS},
        "tipping_points": points,
        "grid": grid,
    }
