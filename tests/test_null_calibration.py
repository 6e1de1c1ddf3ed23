"""Calibration on simulated data at the article's size (n = 22, 2,000 replications each).

Measured with these seeds: HC3 rejects a true null in 3.65 % of trials (slightly conservative,
as HC3 is at small n; the 99.9 % band is about 3.5–6.6 %), BCa 95 % intervals (499 resamples)
cover the true coefficient in 93.95 % with normal errors and 90.25 % with skewed, heteroscedastic
errors. BCa is known to run slightly narrow in samples this small (Carpenter & Bithell, 2000,
Stat Med 19:1141). The permutation test's
calibration is in test_freedman_lane.py.
"""

import numpy as np
from scipy import stats

from alliance.inference.bootstrap import bca_bootstrap
from alliance.inference.robust_se import hc3_tests
from alliance.models.ols import fit_ols

TRIALS, N = 2000, 22


def _band(p: float) -> tuple[float, float]:
    """The binomial 99.9 % band of a rate p over TRIALS replications."""
    low, high = stats.binom.ppf([0.0005, 0.9995], TRIALS, p)
    return low / TRIALS, high / TRIALS


def _trial(k: int, slope: float, skewed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([8, k])
    baseline = rng.normal(79, 12, N)
    wai = rng.normal(200, 22, N)
    if skewed:
        errors = (rng.exponential(1.0, N) - 1.0) * (6 + 0.05 * np.abs(wai - 200))
    else:
        errors = rng.normal(0, 10, N)
    y = 10 + 0.4 * baseline + slope * wai + errors
    return y, np.column_stack([np.ones(N), baseline, wai])


def test_hc3_rejects_a_true_null_at_the_nominal_rate():
    rejections = 0
    for k in range(TRIALS):
        y, X = _trial(k, 0.0)
        _, p = hc3_tests(fit_ols(y, X, ["intercept", "baseline", "wai"]), X)
        rejections += bool(p[2] < 0.05)
    low, high = _band(0.05)
    assert low <= rejections / TRIALS <= high, rejections / TRIALS


def _coverage(skewed: bool) -> float:
    covered = 0
    for k in range(TRIALS):
        y, X = _trial(k, -0.3, skewed)
        result = bca_bootstrap(y, X, 2, 499, seed=(k,))
        covered += bool(result.ci_low <= -0.3 <= result.ci_high)
    return covered / TRIALS


def test_bca_intervals_cover_at_the_nominal_level_with_normal_errors():
    low, high = _band(0.95)
    assert low <= _coverage(skewed=False) <= high


def test_bca_coverage_with_skewed_heteroscedastic_errors_stays_near_nominal():
    """Not within Monte Carlo error of 95 % (about 90 % here): a known small-sample shortfall,
    pinned so that a change making it worse is seen."""
    assert 0.88 <= _coverage(skewed=True) <= 0.96
