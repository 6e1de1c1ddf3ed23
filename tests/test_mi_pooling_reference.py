"""Rubin's rules and Barnard–Rubin df against R's mice::pool on the same completed datasets.

Fixtures: tests/r/mice_pool_reference.R (mice 3.15 completes three episode frames; each
completed dataset is fitted by lm and pooled by pool(), summary(pool) and pool.r.squared).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.missing.pooling import barnard_rubin_df, pool_r_squared, rubin_pool
from alliance.models.ols import fit_ols

FIXTURES = Path(__file__).parent / "fixtures" / "r" / "mice"
REFERENCE = json.loads((FIXTURES / "pool.json").read_text("utf-8"))
SETS = [name for name in REFERENCE if name != "about"]


def _fits(name: str) -> tuple[list, dict]:
    ref = REFERENCE[name]
    frame = pd.read_csv(FIXTURES / f"{name}_completed.csv")
    outcome, timepoint = ref["outcome"], ref["timepoint"]
    columns = [f"{outcome}__baseline", f"wai__{timepoint}"] + (["age"] if ref["covariate"] else [])
    fits = []
    for _, data in frame.groupby(".imp", sort=True):
        X = np.column_stack([np.ones(len(data)), data[columns].to_numpy(dtype="float64")])
        y = data[f"{outcome}__post"].to_numpy(dtype="float64")
        fits.append(fit_ols(y, X, ["intercept", *columns]))
    assert len(fits) == ref["m"]
    return fits, ref


@pytest.mark.parametrize("name", SETS)
def test_rubin_pool_matches_mice_pool(name: str) -> None:
    fits, ref = _fits(name)
    estimates = np.array([f.estimate for f in fits])
    variances = np.array([f.std_error**2 for f in fits])
    dfcom = fits[0].df_resid
    assert dfcom == ref["dfcom"][0]
    pooled = rubin_pool(estimates, variances, dfcom)
    for ours, theirs in [
        (pooled.estimate, "estimate"),
        (pooled.std_error, "std_error"),
        (pooled.statistic, "statistic"),
        (pooled.df, "df"),
        (pooled.p, "p"),
        (pooled.ci_low, "ci_low"),
        (pooled.ci_high, "ci_high"),
        (pooled.ubar, "ubar"),
        (pooled.b, "b"),
        (pooled.t, "t"),
        (pooled.riv, "riv"),
        (pooled.lambda_, "lambda"),
        (pooled.fmi, "fmi"),
    ]:
        np.testing.assert_allclose(ours, ref[theirs], rtol=1e-8, atol=0, err_msg=theirs)


@pytest.mark.parametrize("name", SETS)
def test_pooled_r_squared_matches_pool_r_squared(name: str) -> None:
    fits, ref = _fits(name)
    n = fits[0].n
    for key, values in (
        ("r_squared", [f.r_squared for f in fits]),
        ("adj_r_squared", [f.adj_r_squared for f in fits]),
    ):
        expected = ref[key]
        if any(isinstance(v, str) for v in expected):  # R: sqrt of a negative adj. R² is NaN
            continue
        pooled = pool_r_squared(np.array(values), n)
        got = [pooled.estimate, pooled.ci_low, pooled.ci_high, pooled.fmi]
        np.testing.assert_allclose(got, expected, rtol=1e-8, err_msg=key)


def test_barnard_rubin_floors_lambda_when_imputations_agree() -> None:
    # b = 0 (nothing missing): mice floors lambda at 1e-4, so df stays finite and below dfcom.
    df = barnard_rubin_df(5, np.array([0.0]), np.array([1.0]), 20.0)
    dfold = 4 / 1e-8
    dfobs = 21 / 23 * 20 * (1 - 1e-4)
    assert df[0] == pytest.approx(dfold * dfobs / (dfold + dfobs), rel=1e-12)
    assert df[0] < 20.0
    assert barnard_rubin_df(5, np.array([0.5]), np.array([1.0]), np.inf)[0] == pytest.approx(
        4 / 0.6**2
    )


def test_pooling_refuses_a_single_imputation() -> None:
    with pytest.raises(ValueError, match="at least two"):
        rubin_pool(np.ones((1, 2)), np.ones((1, 2)), 10)
