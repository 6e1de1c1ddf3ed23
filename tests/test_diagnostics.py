"""Model diagnostics against R (shapiro.test, lmtest::bptest, car::vif, cooks.distance) and
statsmodels, on every model of the committed fixtures (tests/r/fixtures_models.R)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.outliers_influence import variance_inflation_factor

from alliance.inference.diagnostics import (
    breusch_pagan,
    cooks_distance,
    diagnostics,
    variance_inflation,
)
from alliance.models.ols import fit_ols
from tests.test_ols import fixture_models, model_arrays

RTOL = 1e-8  # measured agreement with R: ~1e-12, except Shapiro–Wilk below


@pytest.mark.parametrize(("dataset", "model"), fixture_models())
def test_diagnostics_match_r(dataset: str, model: dict[str, Any]) -> None:
    y, X, names, ids = model_arrays(dataset, model)
    result = diagnostics(fit_ols(y, X, names), X, ids)
    expected = model["diagnostics"]
    # scipy's and R's C translations of Royston's AS R94 differ in the last digits of a few
    # constants: W agrees to ~2e-10 and p to ~5e-9 relative on these fixtures.
    np.testing.assert_allclose(result["shapiro"]["W"], expected["shapiro"]["W"], rtol=RTOL)
    np.testing.assert_allclose(result["shapiro"]["p"], expected["shapiro"]["p"], rtol=RTOL)
    for key in ("statistic", "df", "p"):
        np.testing.assert_allclose(
            result["breusch_pagan"][key], expected["breusch_pagan"][key], rtol=RTOL, err_msg=key
        )
    assert list(result["vif"]) == list(expected["vif"]) == names[1:]
    np.testing.assert_allclose(
        list(result["vif"].values()), list(expected["vif"].values()), rtol=RTOL
    )
    np.testing.assert_allclose(result["cooks_distance"], expected["cooks_distance"], rtol=RTOL)
    assert result["cooks_threshold"] == pytest.approx(expected["cooks_threshold"], rel=1e-14)
    influential = result["influential"]
    assert [i["participant_id"] for i in influential] == [
        i["participant_id"] for i in expected["influential"]
    ]
    np.testing.assert_allclose(
        [i["cooks_distance"] for i in influential],
        [i["cooks_distance"] for i in expected["influential"]],
        rtol=RTOL,
    )


def test_fixtures_flag_influential_participants() -> None:
    """The comparison above is not vacuous: some models do name participants."""
    flagged = [
        model["diagnostics"]["influential"] for _, model in (p.values for p in fixture_models())
    ]
    assert sum(len(f) > 0 for f in flagged) >= 6
    assert any(len(f) > 1 for f in flagged)


@pytest.mark.parametrize(("dataset", "model"), fixture_models())
def test_diagnostics_match_statsmodels(dataset: str, model: dict[str, Any]) -> None:
    y, X, names, _ = model_arrays(dataset, model)
    fit = fit_ols(y, X, names)
    ref = sm.OLS(y, X).fit()
    statistic, p, _, _ = het_breuschpagan(ref.resid, X, robust=True)
    bp = breusch_pagan(fit.residuals, X)
    np.testing.assert_allclose([bp["statistic"], bp["p"]], [statistic, p], rtol=RTOL)
    vif = variance_inflation(X, names)
    np.testing.assert_allclose(
        list(vif.values()),
        [variance_inflation_factor(X, j) for j in range(1, X.shape[1])],
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        cooks_distance(fit), ref.get_influence().cooks_distance[0], rtol=RTOL
    )


def test_influential_are_above_four_over_n_largest_first() -> None:
    rng = np.random.default_rng(2)
    n = 20
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(scale=0.3, size=n)
    X[3, 1], y[3] = 4.0, -3.0  # high leverage, off the line
    X[11, 1], y[11] = -3.5, 4.0
    ids = [f"P{i:02d}" for i in range(n)]
    result = diagnostics(fit_ols(y, X, ["intercept", "x"]), X, ids)
    cooks = result["cooks_distance"]
    expected = [ids[i] for i in np.argsort(-cooks) if cooks[i] > 4 / n]
    assert [i["participant_id"] for i in result["influential"]] == expected
    assert {"P03", "P11"} <= set(expected)
    assert result["vif"] == {"x": pytest.approx(1.0)}  # one predictor: nothing to inflate it


def test_diagnostics_checks_its_inputs() -> None:
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(10), rng.normal(size=10)])
    fit = fit_ols(rng.normal(size=10), X, ["intercept", "x"])
    with pytest.raises(ValueError, match="one participant id per row"):
        diagnostics(fit, X, [str(i) for i in range(9)])
    with pytest.raises(ValueError, match="design matrix"):
        diagnostics(fit, X[:, :1], [str(i) for i in range(10)])
