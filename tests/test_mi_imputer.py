"""The imputer: the documented donor rule, determinism across workers, and its statistics on
simulated data (MAR: unbiased where complete cases are not; null: the pooled test keeps its
level). Bands are Monte Carlo error bands, so the tests fail on a biased or miscalibrated MI."""

from __future__ import annotations

import numpy as np
import pytest

from alliance.missing.batch import batch_ols
from alliance.missing.chained import donor_pool, impute, pmm_draw
from alliance.missing.pooling import rubin_pool


def _brute_force_donors(yhat_obs, yhat_mis, d):
    """The documented rule, literally: nearest |ŷ_obs − ŷ_mis|, then lower ŷ_obs, then row."""
    rows = []
    for target in yhat_mis:
        ranked = sorted(
            range(len(yhat_obs)), key=lambda i: (abs(yhat_obs[i] - target), yhat_obs[i], i)
        )
        rows.append(ranked[:d])
    return np.array(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_donor_pool_is_the_documented_rule(seed):
    rng = np.random.default_rng(seed)
    yhat_obs = np.round(rng.normal(size=40), 1)  # rounded: many ties
    yhat_mis = np.concatenate([np.round(rng.normal(size=15), 2), [-9.0, 9.0, yhat_obs[3]]])
    np.testing.assert_array_equal(
        donor_pool(yhat_obs, yhat_mis, 5), _brute_force_donors(yhat_obs, yhat_mis, 5)
    )


def test_donor_pool_fixture():
    # Observed predictions 1, 2, 2, 3, 10 and a missing case predicted at 2.4: distances
    # 1.4, 0.4, 0.4, 0.6, 7.6 -> rows 1 and 2 (tie, earlier row first), then 3, then 0.
    pool = donor_pool(np.array([1.0, 2.0, 2.0, 3.0, 10.0]), np.array([2.4]), 4)
    assert pool.tolist() == [[1, 2, 3, 0]]
    # Fewer observed cases than donors: every observed case is a donor.
    assert donor_pool(np.array([5.0, 1.0]), np.array([0.0]), 5).tolist() == [[1, 0]]


def test_pmm_draws_observed_values_of_the_donors():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(30), rng.normal(size=30)])
    y = 2 * X[:, 1] + rng.normal(size=30)
    drawn = pmm_draw(X[:20], y[:20], X[20:], 5, np.random.default_rng(1))
    assert set(drawn) <= set(y[:20])
    assert len(drawn) == 10


def _gappy(seed=4, n=60):
    rng = np.random.default_rng(seed)
    data = rng.multivariate_normal([0, 0, 0, 0], 0.5 + 0.5 * np.eye(4), size=n)
    data[rng.random(data.shape) < 0.15] = np.nan
    return data


def test_imputation_is_complete_and_keeps_observed_values():
    data = _gappy()
    imputed = impute(data, ("a", "b", "c", "d"), 4, 3, 7)
    assert imputed.values.shape == (4, 60, 4)
    assert not np.isnan(imputed.values).any()
    for values in imputed.values:
        np.testing.assert_array_equal(values[~imputed.missing], data[~imputed.missing])
    assert imputed.chain_mean.shape == (4, 3, 4)
    assert np.isfinite(imputed.chain_sd).all()  # every column has several gaps


def test_same_seed_same_numbers_with_one_or_two_workers():
    data = _gappy()
    one = impute(data, ("a", "b", "c", "d"), 5, 4, (9, 1), workers=1)
    two = impute(data, ("a", "b", "c", "d"), 5, 4, (9, 1), workers=2)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.chain_mean, two.chain_mean)
    other = impute(data, ("a", "b", "c", "d"), 5, 4, (9, 2))
    assert not np.array_equal(one.values, other.values)
    # Imputation j does not depend on how many imputations are asked for.
    fewer = impute(data, ("a", "b", "c", "d"), 3, 4, (9, 1))
    np.testing.assert_array_equal(fewer.values, one.values[:3])


def test_a_variable_with_nothing_observed_is_named():
    data = _gappy()
    data[:, 2] = np.nan
    with pytest.raises(ValueError, match="no observed value to impute from: c"):
        impute(data, ("a", "b", "c", "d"), 2, 1, 0)


def _trial(rng, n, slope):
    baseline = rng.normal(0, 1, n)
    wai = 0.3 * baseline + rng.normal(0, 1, n)
    post = 0.5 * baseline + slope * wai + rng.normal(0, 1, n)
    return np.column_stack([baseline, post, wai])


def _estimates(data, m, seed, level=0.95):
    """Complete-case and MI (pooled) estimate, CI and p of the alliance slope."""
    gap = np.isnan(data[:, 2])
    keep = ~gap
    X = np.column_stack([np.ones(keep.sum()), data[keep, 0], data[keep, 2]])[None]
    cc = batch_ols(data[keep, 1][None], X)
    imputed = impute(data, ("baseline", "post", "wai"), m, 5, seed)
    v = imputed.values
    X = np.stack([np.ones(v.shape[:2]), v[:, :, 0], v[:, :, 2]], axis=2)
    fit = batch_ols(v[:, :, 1], X)
    pooled = rubin_pool(fit.estimate, fit.variance, fit.df_resid, level)
    return cc.estimate[0, 2], pooled.estimate[2], pooled.ci_low[2], pooled.ci_high[2], pooled.p[2]


def _simulate(slope, replications, seed, n=200, m=10):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(replications):
        data = _trial(rng, n, slope)
        # Alliance is missing more often for participants with worse outcomes (higher post):
        # missing at random given the outcome, which complete cases ignore and MI uses.
        z = (data[:, 1] - data[:, 1].mean()) / data[:, 1].std()
        data[rng.random(n) < 1 / (1 + np.exp(-(2.5 * z - 0.5))), 2] = np.nan
        rows.append(_estimates(data, m, (seed, r)))
    return np.array(rows)


def test_mar_alliance_missing_with_worse_outcomes_mi_unbiased_cc_biased():
    slope, replications = -0.3, 60
    runs = _simulate(slope, replications, seed=11)
    cc, mi = runs[:, 0], runs[:, 1]
    band_mi = 4 * mi.std(ddof=1) / np.sqrt(replications)
    band_cc = 4 * cc.std(ddof=1) / np.sqrt(replications)
    assert abs(mi.mean() - slope) < band_mi, (mi.mean(), band_mi)
    assert abs(cc.mean() - slope) > band_cc, (cc.mean(), band_cc)
    coverage = np.mean((runs[:, 2] <= slope) & (slope <= runs[:, 3]))
    # PMM at this missingness is slightly conservative; allow 3 binomial SEs around 0.95.
    assert abs(coverage - 0.95) < 3 * np.sqrt(0.95 * 0.05 / replications) + 0.02, coverage


def test_null_pooled_test_keeps_its_level():
    replications = 150
    runs = _simulate(0.0, replications, seed=12, n=80, m=5)
    rejected = np.mean(runs[:, 4] < 0.05)
    assert rejected < 0.05 + 3 * np.sqrt(0.05 * 0.95 / replications), rejected
