"""fit_ols and alliance_term_stats against R's lm (tests/r/fixtures_models.R) and statsmodels.

The R fixtures hold, for each committed dataset, the episode rows R used and every model of the
article's plan (plus the same models with an age covariate), so the arrays fitted here are
exactly R's.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.models.ols import OLSFit, alliance_term_stats, fit_ols

FIXTURES = Path(__file__).parent / "fixtures" / "r" / "models"
DATASETS = ("article_like", "crossover_missing")
GROUPS = ("models", "models_with_age")
TERM_FIELDS = ("estimate", "std_error", "t", "ci_low", "ci_high", "std_beta")
# Deterministic quantities agree with R to ~1e-12 (measured); 1e-8 leaves room for BLAS/LAPACK
# differences while still catching any formula error.
RTOL = 1e-8
# p-values also get an absolute tolerance. In the tail a p-value's relative error is the t
# statistic's relative error times about df + 1, so it grows with the sample size and with
# collinearity even when both libraries are right (here t agrees to ~1e-14 and p to ~3e-13; the
# special cases below check that without any floor). A difference below 1e-15 in a p-value
# cannot change any decision, so it is not worth a failing test on another machine.
P_ATOL = 1e-15


@cache
def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@cache
def episodes(dataset: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{dataset}_episodes.csv", dtype={"participant_id": str})


def model_arrays(
    dataset: str, model: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """y, X, term names and participant ids of one fixture model, complete cases in row order."""
    frame = episodes(dataset)
    names = [term["name"] for term in model["terms"]]
    columns = {
        "post": f"{model['outcome']}__post",
        "baseline": f"{model['outcome']}__baseline",
        "wai": f"wai__{model['timepoint']}",
        "age": "age",
    }
    data = pd.DataFrame({"participant_id": frame["participant_id"]})
    for name in ["post", *names[1:]]:
        data[name] = frame[columns[name]].astype("float64")
    data = data.dropna()
    X = np.column_stack([np.ones(len(data)), data[names[1:]].to_numpy(dtype="float64")])
    return data["post"].to_numpy(dtype="float64"), X, names, list(data["participant_id"])


def fixture_models() -> list[Any]:
    params = []
    for dataset in DATASETS:
        for group in GROUPS:
            for model in load_fixture(dataset)[group]:
                label = f"{dataset}-{group}-{model['outcome']}-{model['timepoint']}"
                params.append(pytest.param(dataset, model, id=label))
    return params


def as_float(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype="float64")


def test_fixtures_cover_the_article_plan() -> None:
    for dataset in DATASETS:
        fixture = load_fixture(dataset)
        plan = [(m["outcome"], m["timepoint"]) for m in fixture["models"]]
        assert plan == [(o, t) for o in ("caps", "iesr") for t in ("pre_s3", "s4", "s9")]
    assert load_fixture("article_like")["n_participants"] == 23
    assert load_fixture("article_like")["n_episodes"] == 22


@pytest.mark.parametrize(("dataset", "model"), fixture_models())
def test_fit_matches_r_lm(dataset: str, model: dict[str, Any]) -> None:
    y, X, names, ids = model_arrays(dataset, model)
    assert ids == model["participant_ids"]
    fit = fit_ols(y, X, names)
    assert fit.names == tuple(names)
    assert fit.n == model["n"]
    assert fit.df_resid == model["df_resid"]
    for field in TERM_FIELDS:
        expected = as_float([term[field] for term in model["terms"]])
        np.testing.assert_allclose(getattr(fit, field), expected, rtol=RTOL, err_msg=field)
    assert np.isnan(fit.std_beta[0])
    np.testing.assert_allclose(
        fit.p, [term["p"] for term in model["terms"]], rtol=RTOL, atol=P_ATOL
    )
    for field in ("r_squared", "adj_r_squared", "sigma", "rss", "fitted", "leverage", "vcov"):
        np.testing.assert_allclose(getattr(fit, field), model[field], rtol=RTOL, err_msg=field)
    # Residuals can be close to zero, where a relative comparison is meaningless: compare on
    # the scale of the response.
    np.testing.assert_allclose(fit.residuals, model["residuals"], rtol=RTOL, atol=RTOL * y.std())


@pytest.mark.parametrize(("dataset", "model"), fixture_models())
def test_term_stats_match_r(dataset: str, model: dict[str, Any]) -> None:
    y, X, names, _ = model_arrays(dataset, model)
    full = fit_ols(y, X, names)
    keep = [i for i, name in enumerate(names) if name != "wai"]
    reduced = fit_ols(y, X[:, keep], [names[i] for i in keep])
    np.testing.assert_allclose(reduced.r_squared, model["baseline_only_r_squared"], rtol=RTOL)
    stats = alliance_term_stats(full, reduced, "wai")
    assert set(stats) == {"partial_r", "delta_r_squared", "f_squared"}
    for key, value in stats.items():
        np.testing.assert_allclose(value, model[key], rtol=RTOL, err_msg=key)


@pytest.mark.parametrize(("dataset", "model"), fixture_models())
def test_fit_matches_statsmodels(dataset: str, model: dict[str, Any]) -> None:
    y, X, names, _ = model_arrays(dataset, model)
    fit = fit_ols(y, X, names, alpha=0.1)
    ref = sm.OLS(y, X).fit()
    np.testing.assert_allclose(fit.estimate, ref.params, rtol=RTOL)
    np.testing.assert_allclose(fit.std_error, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(fit.t, ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(fit.p, ref.pvalues, rtol=RTOL, atol=P_ATOL)
    ci = ref.conf_int(alpha=0.1)
    np.testing.assert_allclose(fit.ci_low, ci[:, 0], rtol=RTOL)
    np.testing.assert_allclose(fit.ci_high, ci[:, 1], rtol=RTOL)
    np.testing.assert_allclose(fit.r_squared, ref.rsquared, rtol=RTOL)
    np.testing.assert_allclose(fit.adj_r_squared, ref.rsquared_adj, rtol=RTOL)
    np.testing.assert_allclose(fit.sigma**2, ref.scale, rtol=RTOL)
    np.testing.assert_allclose(fit.vcov, ref.cov_params(), rtol=RTOL)
    np.testing.assert_allclose(fit.fitted, ref.fittedvalues, rtol=RTOL)
    np.testing.assert_allclose(fit.residuals, ref.resid, rtol=RTOL, atol=RTOL * y.std())
    np.testing.assert_allclose(fit.leverage, ref.get_influence().hat_matrix_diag, rtol=RTOL)
    assert fit.df_resid == ref.df_resid


@pytest.mark.parametrize(
    "case", load_fixture("ols_special_cases")["cases"], ids=lambda c: c["name"]
)
def test_special_cases_match_r(case: dict[str, Any]) -> None:
    """Tail p-values (down to ~1e-61) and the uncentred R² of a model without intercept."""
    fit = fit_ols(np.array(case["y"]), np.array(case["X"]), case["names"])
    for field in ("estimate", "std_error", "t", "ci_low", "ci_high", "leverage"):
        np.testing.assert_allclose(getattr(fit, field), case[field], rtol=RTOL, err_msg=field)
    # No absolute floor: these p-values (down to ~1e-61) must agree in relative terms.
    np.testing.assert_allclose(fit.p, case["p"], rtol=RTOL, atol=0)
    for field in ("r_squared", "adj_r_squared", "sigma"):
        np.testing.assert_allclose(getattr(fit, field), case[field], rtol=RTOL, err_msg=field)
    assert fit.df_resid == case["df_resid"]


def test_standardised_beta_is_slope_of_z_scores() -> None:
    """Definition check independent of R: b·sd(x)/sd(y) is the slope after z-scoring."""
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(30), rng.normal(50, 10, 30), rng.normal(200, 25, 30)])
    y = X @ [5.0, 0.4, -0.3] + rng.normal(0, 8, 30)
    z = (X[:, 1:] - X[:, 1:].mean(0)) / X[:, 1:].std(0, ddof=1)
    zy = (y - y.mean()) / y.std(ddof=1)
    zfit = fit_ols(zy, np.column_stack([np.ones(30), z]), ["intercept", "a", "b"])
    fit = fit_ols(y, X, ["intercept", "a", "b"])
    np.testing.assert_allclose(fit.std_beta[1:], zfit.estimate[1:], rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=5, max_value=40),
    p=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_random_designs_match_statsmodels(n: int, p: int, seed: int) -> None:
    if n <= p + 1:
        return
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p)) * rng.uniform(0.1, 100, p)])
    y = X @ rng.normal(size=p + 1) + rng.normal(size=n)
    fit = fit_ols(y, X, [f"x{i}" for i in range(p + 1)])
    ref = sm.OLS(y, X).fit()
    np.testing.assert_allclose(fit.estimate, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.std_error, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.r_squared, ref.rsquared, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fit.leverage, ref.get_influence().hat_matrix_diag, rtol=1e-8)


def test_row_order_does_not_matter() -> None:
    y, X, names, _ = model_arrays("article_like", load_fixture("article_like")["models"][1])
    order = np.random.default_rng(11).permutation(len(y))
    a, b = fit_ols(y, X, names), fit_ols(y[order], X[order], names)
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-12)
    np.testing.assert_allclose(a.leverage[order], b.leverage, rtol=1e-12)


def small_design() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    a = rng.normal(size=12)
    b = rng.normal(size=12)
    return rng.normal(size=12), np.column_stack([np.ones(12), a, b])


def test_duplicated_column_is_named() -> None:
    y, X = small_design()
    X = np.column_stack([X, X[:, 1]])
    with pytest.raises(ValueError, match=r"'wai_copy' is a linear combination of 'wai'") as info:
        fit_ols(y, X, ["intercept", "wai", "baseline", "wai_copy"])
    assert "'baseline'" not in str(info.value).split("'wai_copy'")[1]


def test_linear_combination_names_every_column_involved() -> None:
    y, X = small_design()
    X = np.column_stack([X, 3.0 + 2.0 * X[:, 1] - X[:, 2]])
    with pytest.raises(ValueError, match="rank deficient") as info:
        fit_ols(y, X, ["intercept", "a", "b", "a_minus_b"])
    assert "'a_minus_b' is a linear combination of 'intercept', 'a', 'b'" in str(info.value)


def test_zero_column_and_second_intercept_are_named() -> None:
    y, X = small_design()
    X = np.column_stack([X, np.zeros(12), np.full(12, 2.0)])
    with pytest.raises(ValueError) as info:
        fit_ols(y, X, ["intercept", "a", "b", "zero", "two"])
    message = str(info.value)
    assert "'zero' is all zeros" in message
    assert "'two' is a linear combination of 'intercept'" in message


def test_collinearity_tolerance_is_rs() -> None:
    """Within R's 1e-7 relative tolerance a column is refused, beyond it fitted."""
    y, X = small_design()
    noise = np.random.default_rng(9).normal(size=12)
    noise -= X @ np.linalg.lstsq(X, noise, rcond=None)[0]  # orthogonal to X
    noise /= np.linalg.norm(noise)
    base = X[:, 1] * 2.0
    norm = np.linalg.norm(base)
    with pytest.raises(ValueError, match="'near' is a linear combination"):
        fit_ols(y, np.column_stack([X, base + 1e-9 * norm * noise]), ["i", "a", "b", "near"])
    fit = fit_ols(y, np.column_stack([X, base + 1e-5 * norm * noise]), ["i", "a", "b", "near"])
    assert np.all(np.isfinite(fit.std_error))


@pytest.mark.parametrize("n", [2, 3])
def test_too_few_cases(n: int) -> None:
    X = np.column_stack([np.ones(n), np.arange(n), np.arange(n) ** 2])
    with pytest.raises(ValueError, match=f"too few cases: n = {n} for 3 coefficients"):
        fit_ols(np.arange(n, dtype=float), X, ["intercept", "x", "x2"])


def test_bad_inputs() -> None:
    y, X = small_design()
    names = ["intercept", "a", "b"]
    with pytest.raises(ValueError, match="finite"):
        fit_ols(np.where(np.arange(12) == 3, np.nan, y), X, names)
    with pytest.raises(ValueError, match="finite"):
        infinite = X.copy()
        infinite[4, 2] = np.inf
        fit_ols(y, infinite, names)
    with pytest.raises(ValueError, match="names has 2 entries for 3 columns"):
        fit_ols(y, X, names[:2])
    with pytest.raises(ValueError, match="one value per row"):
        fit_ols(y[:-1], X, names)
    with pytest.raises(ValueError, match="2-D"):
        fit_ols(y, X[:, 1], names[:1])


def test_fit_is_immutable() -> None:
    y, X = small_design()
    fit = fit_ols(y, X, ["intercept", "a", "b"])
    with pytest.raises(ValueError, match="read-only"):
        fit.estimate[0] = 1.0
    with pytest.raises(AttributeError):
        fit.n = 3
    assert fit.index("b") == 2
    with pytest.raises(KeyError, match="no term 'wai'"):
        fit.index("wai")


def reduced_pair() -> tuple[OLSFit, OLSFit]:
    y, X = small_design()
    full = fit_ols(y, X, ["intercept", "baseline", "wai"])
    reduced = fit_ols(y, X[:, :2], ["intercept", "baseline"])
    return full, reduced


def test_term_stats_definitions() -> None:
    full, reduced = reduced_pair()
    stats = alliance_term_stats(full, reduced, "wai")
    t = full.t[2]
    assert stats["partial_r"] == pytest.approx(t / np.sqrt(t**2 + full.df_resid), rel=1e-14)
    # partial r² is also the share of the reduced model's residual variance the term explains
    assert stats["partial_r"] ** 2 == pytest.approx(1 - full.rss / reduced.rss, rel=1e-10)
    assert stats["f_squared"] == pytest.approx(
        stats["delta_r_squared"] / (1 - full.r_squared), rel=1e-14
    )


def test_term_stats_refuse_mismatched_models() -> None:
    full, reduced = reduced_pair()
    with pytest.raises(ValueError, match="must not contain 'wai'"):
        alliance_term_stats(full, full, "wai")
    with pytest.raises(KeyError, match="no term 'age'"):
        alliance_term_stats(full, reduced, "age")
    y, X = small_design()
    other = fit_ols(y[:10], X[:10, :2], ["intercept", "baseline"])
    with pytest.raises(ValueError, match="same cases: full has n = 12, reduced has n = 10"):
        alliance_term_stats(full, other, "wai")
