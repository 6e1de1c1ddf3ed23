"""Freedman–Lane permutation p-values: each batched refit against statsmodels, the p-value
against a plain loop written from the definition, reproducibility, and calibration under the null."""

import numpy as np
import pytest
import statsmodels.api as sm

from alliance.inference.freedman_lane import (
    freedman_lane_p,
    permutation_indices,
    t_statistics,
)
from alliance.inference.streams import CHUNK


def data(n=22, seed=3, effect=0.0):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(70, 15, n)
    wai = rng.normal(200, 25, n)
    y = 10 + 0.5 * baseline + effect * wai + rng.normal(0, 12, n)
    return y, np.column_stack([np.ones(n), baseline, wai])


def test_batched_t_statistics_match_statsmodels_refits():
    y, X = data()
    perms = next(permutation_indices(len(y), 20, seed=1))
    Y = y[perms]
    ours = t_statistics(Y, X, 2)
    reference = [sm.OLS(row, X).fit().tvalues[2] for row in Y]
    np.testing.assert_allclose(ours, reference, rtol=1e-10)


def test_p_value_matches_a_plain_loop_over_the_definition():
    y, X = data(effect=0.15)
    B = 300
    reduced = sm.OLS(y, X[:, :2]).fit()
    observed = abs(sm.OLS(y, X).fit().tvalues[2])
    count = 0
    perms = np.vstack(list(permutation_indices(len(y), B, seed=(5, 0))))
    for perm in perms:
        y_star = reduced.fittedvalues + reduced.resid[perm]
        count += abs(sm.OLS(y_star, X).fit().tvalues[2]) >= observed - 1e-10 * max(observed, 1)
    assert freedman_lane_p(y, X, 2, B, seed=(5, 0)) == (1 + count) / (1 + B)


def test_same_seed_same_p_and_chunks_are_independent_of_count():
    y, X = data(effect=0.1)
    assert freedman_lane_p(y, X, 2, 2_500, seed=9) == freedman_lane_p(y, X, 2, 2_500, seed=9)
    first = np.vstack(list(permutation_indices(10, CHUNK + 5, seed=2)))
    longer = np.vstack(list(permutation_indices(10, 2 * CHUNK, seed=2)))
    np.testing.assert_array_equal(first, longer[: CHUNK + 5])
    assert all(sorted(row) == list(range(10)) for row in first[:50])


def test_a_strong_effect_has_the_smallest_attainable_p():
    y, X = data(effect=1.0)
    assert freedman_lane_p(y, X, 2, 999, seed=0) == pytest.approx(1 / 1000)


def test_rejects_at_the_nominal_rate_under_the_null():
    # 1,000 null datasets at n = 22, 199 permutations each: the rejection rate at 5 % must lie
    # within the binomial 99.9 % band around 0.05 (about 0.028 to 0.076).
    rejections = sum(freedman_lane_p(*data(seed=s), 2, 199, seed=s) <= 0.05 for s in range(1_000))
    assert 28 <= rejections <= 76, rejections


def test_same_p_value_on_one_thread_or_several(monkeypatch):
    import alliance.inference.streams as streams

    y, X = data(n=300, effect=0.05)
    monkeypatch.setattr(streams, "PARALLEL_VALUES", 0)  # threads even for this small job
    monkeypatch.setattr(streams, "BLOCK_VALUES", 300 * 7)  # several blocks per chunk
    monkeypatch.setenv(streams.THREADS_VARIABLE, "1")
    serial = freedman_lane_p(y, X, 2, 3 * CHUNK + 17, seed=4)
    monkeypatch.setenv(streams.THREADS_VARIABLE, "3")
    assert freedman_lane_p(y, X, 2, 3 * CHUNK + 17, seed=4) == serial
