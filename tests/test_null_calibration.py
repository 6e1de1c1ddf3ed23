"""Calibration on simulated data at the article's size (n = 22, 2,000 replications each).

Measured with these seeds: HC3 rejects a true null in 3.65 % of trials (slightly conservative,
as HC3 is at small n; the 99.9 % band is about 3.5–6.6 %), BCa 95 % intervals (499 resamples)
cover the true coefficient in 93.95 % with normal errors and 90.25 % with skewed, heteroscedastic
errors. BCa is known to run slightly narrow in samples this small (Carpenter & Bithell, 2000,
Stat Med 19:1141). The permutation test's
calibration is in test_freedman_lane.py.

The 2,000 replications run as one batch of arrays (a Python loop over them took over a minute):
the batch repeats, for every replication at once, the steps ``hc3_tests`` and ``bca_bootstrap``
take for one, on the engine's own resampling stream, and each test first checks that the batch
gives those functions' numbers on a spread of replications, so the rates are theirs.
"""

import numpy as np
from scipy import stats

from alliance.inference.bootstrap import (
    RANK_TOLERANCE,
    bca_bootstrap,
    bootstrap_indices,
    resample_counts,
)
from alliance.inference.robust_se import hc3_tests
from alliance.models.ols import fit_ols

TRIALS, N = 2000, 22
RESAMPLES = 499
TERM = 2  # the alliance slope: columns are intercept, baseline, wai
CHECKED = range(0, TRIALS, 80)  # replications recomputed one by one with the library's functions
BATCH_DIFFERS = "the batch here no longer repeats the library's computation; update it: replication"


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


def _trials(slope: float, skewed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every replication stacked: y (TRIALS × N) and X (TRIALS × N × 3)."""
    pairs = [_trial(k, slope, skewed) for k in range(TRIALS)]
    return np.stack([y for y, _ in pairs]), np.stack([X for _, X in pairs])


def _hc3_p(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """HC3 t-test p-value of the alliance slope in each replication (as ``hc3_tests``)."""
    q, r = np.linalg.qr(X)
    estimate = np.linalg.solve(r, (q.transpose(0, 2, 1) @ y[..., None]))[..., 0]
    residuals = y - (X @ estimate[..., None])[..., 0]
    leverage = np.sum(q**2, axis=2)
    bread = np.linalg.inv(X.transpose(0, 2, 1) @ X)
    weights = residuals**2 / (1.0 - leverage) ** 2
    meat = X.transpose(0, 2, 1) @ (X * weights[..., None])
    se = np.sqrt((bread @ meat @ bread)[:, TERM, TERM])
    return 2 * stats.t.sf(np.abs(estimate[:, TERM] / se), N - X.shape[2])


def test_hc3_rejects_a_true_null_at_the_nominal_rate():
    y, X = _trials(0.0)
    p = _hc3_p(y, X)
    for k in CHECKED:
        _, expected = hc3_tests(fit_ols(y[k], X[k], ["intercept", "baseline", "wai"]), X[k])
        np.testing.assert_allclose(p[k], expected[TERM], rtol=1e-9, err_msg=f"{BATCH_DIFFERS} {k}")
    low, high = _band(0.05)
    assert low <= np.mean(p < 0.05) <= high, np.mean(p < 0.05)


def _replicates(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, RESAMPLES case-resampling replicates and regression influence values of the
    alliance slope in each replication, as ``bootstrap_replicates`` computes them for one
    (replication k resamples with seed (k,))."""
    draws = [np.concatenate(list(bootstrap_indices(N, RESAMPLES, (k,)))) for k in range(len(y))]
    counts = np.stack([resample_counts(idx, N) for idx in draws])  # trials × resamples × N
    scale = X.std(axis=1)
    constant = scale == 0
    centre = np.where(constant, 0.0, X.mean(axis=1))
    Z = (X - centre[:, None]) / np.where(constant, 1.0, scale)[:, None]
    p = X.shape[2]
    outer = (Z[..., :, None] * Z[..., None, :]).reshape(len(y), N, p * p)
    gram = (counts @ outer).reshape(*counts.shape[:2], p, p)
    diagonal = np.einsum("tbii->tbi", gram)
    assert (np.linalg.det(gram) / np.prod(diagonal, axis=2) > RANK_TOLERANCE).all()
    rhs = counts @ (Z * y[..., None])
    values = np.linalg.solve(gram, rhs[..., None])[..., TERM, 0] / scale[:, None, TERM]
    full = np.linalg.solve(Z.transpose(0, 2, 1) @ Z, Z.transpose(0, 2, 1) @ y[..., None])
    estimate = full[:, TERM, 0] / scale[:, TERM]
    # Empirical influence: replicates regressed on the frequencies / n of cases 2..n.
    design = np.concatenate([np.ones((*counts.shape[:2], 1)), counts[..., 1:] / N], axis=2)
    normal = design.transpose(0, 2, 1) @ design
    beta = np.linalg.solve(normal, design.transpose(0, 2, 1) @ values[..., None])[:, 1:, 0]
    influence = np.concatenate([np.zeros((len(y), 1)), beta], axis=1)
    return estimate, values, influence - influence.mean(axis=1, keepdims=True)


def _bca_limits(estimate, values, influence, level: float = 0.95) -> np.ndarray:
    """BCa limits (trials × 2) as ``bca_interval``: bias correction, acceleration and
    ``boot``'s interpolation on the normal scale between order statistics."""
    w = stats.norm.ppf(np.mean(values < estimate[:, None], axis=1))
    a = np.sum(influence**3, axis=1) / (6.0 * np.sum(influence**2, axis=1) ** 1.5)
    z = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    wz = w[:, None] + z
    alpha = stats.norm.cdf(w[:, None] + wz / (1.0 - a[:, None] * wz))
    ordered = np.sort(values, axis=1)
    rank = (RESAMPLES + 1) * alpha
    k = np.clip(np.trunc(rank).astype(int), 1, RESAMPLES - 1)
    below = np.take_along_axis(ordered, k - 1, axis=1)
    above = np.take_along_axis(ordered, k, axis=1)
    z_k, z_k1 = stats.norm.ppf(k / (RESAMPLES + 1)), stats.norm.ppf((k + 1) / (RESAMPLES + 1))
    limits = below + (stats.norm.ppf(alpha) - z_k) / (z_k1 - z_k) * (above - below)
    limits = np.where(rank == np.trunc(rank), below, limits)
    limits = np.where(rank < 1, ordered[:, :1], limits)
    return np.where(rank >= RESAMPLES, ordered[:, -1:], limits)


def _coverage(skewed: bool) -> float:
    y, X = _trials(-0.3, skewed)
    limits = _bca_limits(*_replicates(y, X))
    for k in CHECKED:
        result = bca_bootstrap(y[k], X[k], TERM, RESAMPLES, seed=(k,))
        np.testing.assert_allclose(
            limits[k], [result.ci_low, result.ci_high], rtol=1e-9, err_msg=f"{BATCH_DIFFERS} {k}"
        )
    return float(np.mean((limits[:, 0] <= -0.3) & (limits[:, 1] >= -0.3)))


def test_bca_intervals_cover_at_the_nominal_level_with_normal_errors():
    low, high = _band(0.95)
    assert low <= _coverage(skewed=False) <= high


def test_bca_coverage_with_skewed_heteroscedastic_errors_stays_near_nominal():
    """Not within Monte Carlo error of 95 % (about 90 % here): a known small-sample shortfall,
    pinned so that a change making it worse is seen."""
    assert 0.88 <= _coverage(skewed=True) <= 0.96
