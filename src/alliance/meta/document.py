"""``meta.json``: the machine-readable meta-analysis (keys described in docs/meta.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alliance import __version__
from alliance.meta.analysis import MetaAnalysis
from alliance.meta.pooling import METHOD_NAMES, TEST_NAMES
from alliance.report.results_json import clean, software_versions

SCHEMA_VERSION = "1"
SIGN_CONVENTION = (
    "positive r: higher alliance goes with a better outcome. An r of alliance with a symptom "
    "score (CAPS, IES-R: higher is worse) is stored with its sign flipped; r_as_given keeps "
    "the value as read"
)


def meta_document(result: MetaAnalysis, inputs: Sequence[str]) -> dict[str, Any]:
    pooled = result.pooled
    r_ci_low, r_ci_high, r_pi_low, r_pi_high = pooled.r_interval
    studies = []
    for effect, weight in zip(result.effects, pooled.weights, strict=True):
        low, high = effect.interval(pooled.level)
        record: dict[str, Any] = {
            "study": effect.name,
            "r": effect.r,
            "ci_low": low,
            "ci_high": high,
            "z": effect.z,
            "se": effect.variance**0.5,
            "weight": weight,
        }
        if effect.study is not None:
            s = effect.study
            record |= {
                "n": s.n,
                "covariates": s.covariates,
                "r_as_given": s.r_as_given,
                "sign_flipped": s.flipped,
                "source": s.source,
                "model": s.model,
            }
        else:
            assert effect.benchmark is not None
            record |= {
                "n": effect.benchmark.entry.n,
                "covariates": None,
                "r_as_given": effect.benchmark.entry.r_published,
                "sign_flipped": effect.benchmark.entry.flip,
                "source": f"literature: {effect.benchmark.key}",
                "model": None,
            }
        studies.append(record)
    literature = None
    if result.literature_version is not None:
        pooled_keys = {e.benchmark.key for e in result.effects if e.benchmark is not None}
        literature = {
            "version": result.literature_version,
            "pooled_with_studies": bool(pooled_keys),
            "not_pooled": [{"key": k, "reason": why} for k, why in result.not_pooled],
            "entries": [b.record() | {"pooled": b.key in pooled_keys} for b in result.literature],
        }
    document = {
        "schema_version": SCHEMA_VERSION,
        "alliance_version": __version__,
        "software": software_versions(),
        "inputs": list(inputs),
        "synthetic": result.synthetic,
        "sign_convention": SIGN_CONVENTION,
        "method": pooled.method,
        "method_name": METHOD_NAMES[pooled.method],
        "test": pooled.test,
        "test_name": TEST_NAMES[pooled.test],
        "level": pooled.level,
        "k": pooled.k,
        "pooled": {
            "r": pooled.r,
            "ci_low": r_ci_low,
            "ci_high": r_ci_high,
            "pi_low": r_pi_low,
            "pi_high": r_pi_high,
            "z": pooled.estimate,
            "se": pooled.se,
            "p": pooled.p,
            "statistic": pooled.statistic,
            "statistic_name": "t" if pooled.df is not None else "z",
            "df": pooled.df,
            "z_ci_low": pooled.ci_low,
            "z_ci_high": pooled.ci_high,
            "z_pi_low": pooled.pi_low,
            "z_pi_high": pooled.pi_high,
        },
        "heterogeneity": {
            "tau2": pooled.tau2.value,
            "tau": pooled.tau2.value**0.5,
            "i2": pooled.i2,
            "h2": pooled.h2,
            "q": pooled.q,
            "q_df": pooled.q_df,
            "q_p": pooled.q_p,
            "tau2_iterations": pooled.tau2.iterations,
            "tau2_note": pooled.tau2.note or None,
        },
        "studies": studies,
        "literature": literature,
        "warnings": list(result.warnings),
    }
    return clean(document)
