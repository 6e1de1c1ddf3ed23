"""The whole pipeline (load → validate → episodes → models → multiplicity) against R.

The fixtures come from ``tests/r/fixtures_models.R``, which applies the episode rule of docs/data-layouts.md in R
(including a crossover, missing values, an MDMA participant with a later open-label phase and a
borrowed open-label baseline) and fits ``lm`` and ``p.adjust``. Tolerance: 1e-8 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data
from alliance.report.results_json import results_document

HERE = Path(__file__).parent
DATASETS = ["article_like", "crossover_missing"]
RTOL = 1e-8
ATOL_P = 1e-15  # p-values far in the tail: below this no decision can change
METHODS = ["holm", "bonferroni", "hochberg", "bh", "by", "none"]


def fixture(name: str) -> dict:
    return json.loads((HERE / "fixtures" / "r" / "models" / f"{name}.json").read_text())


def run(name: str, method: str = "holm", family: str = "all", covariates: tuple = ()):
    plan = load_plan().with_overrides(adjust=method, family=family)
    if covariates:
        plan = plan.model_copy(update={"covariates": covariates})
    loaded = load_data(HERE / "fixtures" / "data" / f"{name}.csv")
    return results_document(analyze(loaded, plan, seed=0))


def close(a, b, rtol=RTOL, atol=0.0):
    if b is None:
        assert a is None
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("with_age", [False, True])
def test_models_match_r(name, with_age):
    expected = fixture(name)
    doc = run(name, covariates=("age",) if with_age else ())
    r_models = expected["models_with_age"] if with_age else expected["models"]
    assert doc["ledger"]["episodes"] == expected["n_episodes"]
    assert doc["ledger"]["participants_in"] == expected["n_participants"]
    assert len(doc["models"]) == len(r_models)
    for ours, r in zip(doc["models"], r_models, strict=True):
        assert (ours["outcome"], ours["timepoint"]) == (r["outcome"], r["timepoint"])
        assert ours["n"] == r["n"]
        assert sorted(ours["participants"]) == sorted(r["participant_ids"])
        for key in ("r_squared", "adj_r_squared", "partial_r", "delta_r_squared", "f_squared"):
            close(ours[key], r[key])
        assert [t["name"] for t in ours["terms"]] == [t["name"] for t in r["terms"]]
        for t_ours, t_r in zip(ours["terms"], r["terms"], strict=True):
            for key in ("estimate", "std_error", "t", "ci_low", "ci_high", "std_beta"):
                close(t_ours[key], t_r[key])
            close(t_ours["p"], t_r["p"], atol=ATOL_P)
        diag, r_diag = ours["diagnostics"], r["diagnostics"]
        close(diag["breusch_pagan"]["statistic"], r_diag["breusch_pagan"]["statistic"])
        close(diag["cooks_distance"], r_diag["cooks_distance"])


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", ["all", "per_outcome"])
def test_adjusted_p_values_match_r(name, method, family):
    expected = fixture(name)
    doc = run(name, method=method, family=family)
    r_adjusted = [m["p_adjusted"][family][method] for m in expected["models"]]
    ours = [m["p_adjusted"] for m in doc["models"]]
    np.testing.assert_allclose(ours, r_adjusted, rtol=1e-12, atol=ATOL_P)
    for model, p in zip(doc["models"], r_adjusted, strict=True):
        assert model["survives_correction"] == (p < 0.05)
        assert model["adjust_method"] == method
