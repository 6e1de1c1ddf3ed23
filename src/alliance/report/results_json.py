"""``results.json``: the machine-readable result (SPEC §5 contract, ``schema_version`` 1).

Keys may be added; none of the contract's keys is renamed or removed without a schema bump.
Numbers are written with full precision; a number that cannot be computed is ``null``
(JSON has no NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from alliance import __version__
from alliance.models.fit import ModelResult
from alliance.pipeline import Analysis

SCHEMA_VERSION = "1"


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def clean(value: Any) -> Any:
    """Recursively turn numpy scalars and arrays into JSON values, NaN into null."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _number(value)
    return value


def term_records(model: ModelResult) -> list[dict[str, Any]]:
    fit = model.fit
    return [
        {
            "name": name,
            "estimate": fit.estimate[i],
            "std_error": fit.std_error[i],
            "t": fit.t[i],
            "p": fit.p[i],
            "ci_low": fit.ci_low[i],
            "ci_high": fit.ci_high[i],
            "std_beta": fit.std_beta[i],
            **(model.extras.get("term", {}) if i == model.data.term else {}),
        }
        for i, name in enumerate(fit.names)
    ]


def model_record(model: ModelResult, adjust_method: str, family: str) -> dict[str, Any]:
    spec = model.spec
    record: dict[str, Any] = {
        "outcome": spec.outcome.score,
        "predictor": spec.predictor.score,
        "timepoint": spec.timepoint,
        "covariates": list(spec.covariates),
        "n": model.fit.n,
        "r_squared": model.fit.r_squared,
        "adj_r_squared": model.fit.adj_r_squared,
        "delta_r_squared": model.term_stats["delta_r_squared"],
        "f_squared": model.term_stats["f_squared"],
        "partial_r": model.term_stats["partial_r"],
        "p_adjusted": model.p_adjusted,
        "adjust_method": adjust_method,
        "adjust_family": family,
        "survives_correction": model.survives_correction,
        "terms": term_records(model),
        "participants": list(model.data.participant_ids),
    }
    for key, value in model.extras.items():
        if key != "term":
            record[key] = value
    return record


def results_document(analysis: Analysis) -> dict[str, Any]:
    """The whole ``results.json`` document for one analysis."""
    plan = analysis.plan
    loaded = analysis.loaded
    document = {
        "schema_version": SCHEMA_VERSION,
        "alliance_version": __version__,
        "input_file": loaded.path.name,
        "input_sha256": loaded.sha256,
        "input_layout": loaded.layout,
        "plan": plan.model_dump(mode="json"),
        "seed": analysis.seed,
        "synthetic": loaded.synthetic,
        # What the input raised that is not an error (unread worksheets, unused columns): kept
        # with the result, not only printed, so a reader of results.json sees it too.
        "warnings": list(loaded.warnings),
        "ledger": analysis.ledger.to_dict(),
        "models": [
            model_record(m, plan.multiplicity.method, plan.multiplicity.family)
            for m in analysis.models
        ],
    }
    return clean(document)
