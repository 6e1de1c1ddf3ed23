"""``results.json``: the machine-readable result (keys in docs/results-json.md, ``schema_version`` 1).

Keys may be added; none of the contract's keys is renamed or removed without a schema bump.
Numbers are written with full precision; a number that cannot be computed is ``null``
(JSON has no NaN).
"""

from __future__ import annotations

import math
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from alliance import __version__
from alliance.models.fit import ModelResult
from alliance.models.plan import InferenceSpec
from alliance.models.small_sample import model_reasons, small_sample_warnings
from alliance.pipeline import Analysis
from alliance.report import apa
from alliance.report.mixed_models import mixed_records

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
    kind = type(value)  # the common plain types first: a large trial has a million values
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
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


def model_label(model: ModelResult) -> str:
    """``"CAPS total at post-treatment ~ WAI total at session 4"``: the model for a reader."""
    spec = model.spec
    return (
        f"{apa.outcome_label(spec)} {apa.timepoint_phrase(spec.outcome.post)} ~ "
        f"{apa.predictor_label(spec)} {apa.timepoint_phrase(spec.timepoint)}"
    )


def resampling_record(model: ModelResult, inference: InferenceSpec, seed: Any) -> dict[str, Any]:
    """How many resamples this model's robust statistics rest on, and the seed they came from."""
    bootstrap = model.extras.get("bootstrap", {})
    return {
        "seed": seed,
        "bootstrap_resamples": inference.bootstrap,
        "bootstrap_resamples_used": bootstrap.get("resamples_used", 0),
        "permutations": inference.permutations,
    }


def model_record(
    model: ModelResult,
    adjust_method: str,
    family: str,
    inference: InferenceSpec | None = None,
    seed: Any = None,
) -> dict[str, Any]:
    """One model: its key and label, fit, alliance statistics, terms and robust companions.

    ``seed`` is the model's own resampling stream, ``[analysis seed, model index]``.
    """
    spec = model.spec
    record: dict[str, Any] = {
        "key": spec.key,
        "label": model_label(model),
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
        "df_resid": int(model.fit.df_resid),
        "small_sample": model_reasons(model),  # why the model is too small to trust, if it is
    }
    if inference is not None:
        record["resampling"] = resampling_record(model, inference, seed)
    for key, value in model.extras.items():
        if key != "term":
            record[key] = value
    if "log_bf10" in record.get("bayes_factor", {}):
        # Natural log: exp(log_bf10) = bf10; kept beside bf10 because bf10 overflows first.
        record["bayes_factor"] = {**record["bayes_factor"], "log_base": "e"}
    return record


def software_versions(libraries: tuple[str, ...] = ()) -> dict[str, str]:
    """The versions that computed the numbers (and of ``libraries``), so a result can be
    reproduced."""
    versions = {"alliance": __version__, "python": platform.python_version()}
    for name in SOFTWARE + tuple(n for n in libraries if n not in SOFTWARE):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


SOFTWARE = ("numpy", "scipy", "pandas", "statsmodels")


def inference_record(analysis: Analysis) -> dict[str, Any]:
    """The analysis-wide inference settings the numbers depend on."""
    plan = analysis.plan
    return {
        "seed": analysis.seed,
        "seed_streams": "model k (0-based, plan order) resamples from the stream [seed, k]",
        "alpha": plan.alpha,
        "ci_level": 1.0 - plan.alpha,
        "adjust_method": plan.multiplicity.method,
        "adjust_family": plan.multiplicity.family,
        "bootstrap_resamples": plan.inference.bootstrap,
        "permutations": plan.inference.permutations,
        "adjust_permutation_p": plan.inference.adjust_permutation_p,
        "bayes_factor": plan.inference.bayes_factor,
        "bf_rscale": plan.inference.bf_rscale,
    }


def reliability_records(analysis: Analysis) -> list[dict[str, Any]] | None:
    """Alpha and omega of the analysed scores (null for a scored file: no items)."""
    if analysis.reliability is None:
        return None
    frame = analysis.reliability.astype(object).where(analysis.reliability.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def results_document(analysis: Analysis) -> dict[str, Any]:
    """The whole ``results.json`` document for one analysis."""
    plan = analysis.plan
    loaded = analysis.loaded
    document = {
        "schema_version": SCHEMA_VERSION,
        "alliance_version": __version__,
        "software": software_versions(),
        "input_file": loaded.path.name,
        "input_sha256": loaded.sha256,
        "input_layout": loaded.layout,
        "plan": plan.model_dump(mode="json"),
        "seed": analysis.seed,
        "inference": inference_record(analysis),
        "synthetic": loaded.synthetic,
        # What the input raised that is not an error (unread worksheets, unused columns): kept
        # with the result, not only printed, so a reader of results.json sees it too.
        "warnings": list(loaded.warnings),
        "model_warnings": small_sample_warnings(analysis.models),
        "ledger": analysis.ledger.to_dict(),
        "reliability": reliability_records(analysis),
        "models": [
            model_record(
                m,
                plan.multiplicity.method,
                plan.multiplicity.family,
                plan.inference,
                [analysis.seed, k],
            )
            for k, m in enumerate(analysis.models)
        ],
        **mixed_records(analysis),
    }
    from alliance.missing.results import with_missing_data  # pooled models under MI
    from alliance.report.planning_section import planning_records  # planning a replication

    document = with_missing_data(document, analysis)
    return clean({**document, "planning": planning_records(document)})
