"""HC3 standard errors against R's sandwich::vcovHC(type = "HC3") with lmtest::coeftest
(tests/r/hc3_reference.R) and against statsmodels' HC3, on the committed episode data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from alliance.inference.robust_se import hc3_tests
from alliance.models.ols import fit_ols
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data

HERE = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((HERE / "r" / "robust" / "hc3.json").read_text())
DATASETS = ["article_like", "crossover_missing"]


def design(dataset: str, outcome: str, timepoint: str):
    episodes = pd.read_csv(HERE / "r" / "models" / f"{dataset}_episodes.csv")
    cols = [f"{outcome}__post", f"{outcome}__baseline", f"wai__{timepoint}"]
    frame = episodes[cols].dropna()
    X = np.column_stack([np.ones(len(frame)), frame[cols[1]], frame[cols[2]]])
    return frame[cols[0]].to_numpy(dtype=float), X


@pytest.mark.parametrize("dataset", DATASETS)
def test_hc3_matches_r_sandwich(dataset):
    for model in REFERENCE[dataset]:
        y, X = design(dataset, model["outcome"], model["timepoint"])
        assert len(y) == model["n"]
        fit = fit_ols(y, X, ["intercept", "baseline", "wai"])
        se, p = hc3_tests(fit, X)
        np.testing.assert_allclose(se, model["hc3_std_error"], rtol=1e-8)
        np.testing.assert_allclose(p, model["hc3_p"], rtol=1e-8, atol=1e-15)


def test_hc3_matches_statsmodels():
    y, X = design("crossover_missing", "iesr", "s9")
    fit = fit_ols(y, X, ["intercept", "baseline", "wai"])
    se, _ = hc3_tests(fit, X)
    reference = sm.OLS(y, X).fit(cov_type="HC3")
    np.testing.assert_allclose(se, reference.bse, rtol=1e-10)


def test_results_carry_hc3_for_the_alliance_term():
    loaded = load_data(HERE / "data" / "article_like.csv")
    analysis = analyze(loaded, load_plan())
    for model, reference in zip(analysis.models, REFERENCE["article_like"], strict=True):
        term = model.extras["term"]
        np.testing.assert_allclose(term["hc3_std_error"], reference["hc3_std_error"][2], rtol=1e-8)
        np.testing.assert_allclose(term["hc3_p"], reference["hc3_p"][2], rtol=1e-8)
