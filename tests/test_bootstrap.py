"""The vectorised case-resampling engine: exact refits, seeds, rank-deficient resamples."""

import numpy as np

import alliance.inference.bootstrap as bootstrap
from alliance.inference.bootstrap import (
    bca_bootstrap,
    bca_interval,
    bootstrap_indices,
    bootstrap_replicates,
    jackknife_influence,
    norm_inter,
    resampled_coefficients,
)


def _data(n=22, seed=0):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(79, 12, n)
    wai = rng.normal(200, 22, n)
    y = 10 + 0.4 * baseline - 0.3 * wai + rng.normal(0, 12, n)
    return y, np.column_stack([np.ones(n), baseline, wai])


def test_batched_refits_equal_a_plain_lstsq_loop():
    y, X = _data()
    idx = next(bootstrap_indices(len(y), 300, seed=4))
    batched = resampled_coefficients(y, X, 2, idx)
    loop = np.array([np.linalg.lstsq(X[i], y[i], rcond=None)[0][2] for i in idx])
    np.testing.assert_allclose(batched, loop, rtol=1e-10, atol=1e-13)


def test_rank_deficient_resample_has_no_coefficient_and_is_counted():
    y, X = _data(n=8)
    X[:, 2] = [1, 1, 1, 1, 2, 2, 2, 2]  # a resample of only the first four has a constant column
    idx = np.array([[0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 4, 5, 6, 7, 3]])
    coef = resampled_coefficients(y, X, 2, idx)
    assert np.isnan(coef[0]) and np.isfinite(coef[1])
    result = bca_bootstrap(y, X, 2, 2000, seed=1)
    assert result.replicates_dropped > 0
    assert result.replicates_used + result.replicates_dropped == 2000


def test_same_seed_same_replicates_whatever_the_chunk_size(monkeypatch):
    y, X = _data()
    first = bootstrap_replicates(y, X, 2, 2500, seed=(3, 1)).values
    again = bootstrap_replicates(y, X, 2, 2500, seed=(3, 1)).values
    np.testing.assert_array_equal(first, again)
    # Different counts share their first resamples: count 1000 is a prefix of count 2500.
    prefix = bootstrap_replicates(y, X, 2, 1000, seed=(3, 1)).values
    np.testing.assert_array_equal(prefix, first[:1000])
    other = bootstrap_replicates(y, X, 2, 2500, seed=(4, 1)).values
    assert not np.array_equal(first, other)


def test_bootstrap_and_permutation_streams_differ():
    from alliance.inference.freedman_lane import permutation_indices

    boot = next(bootstrap_indices(22, 5, seed=(0, 0)))
    perm = next(permutation_indices(22, 5, seed=(0, 0)))
    assert not np.array_equal(np.sort(boot, axis=1), np.sort(perm, axis=1))


def test_jackknife_influence_equals_leave_one_out_refits():
    y, X = _data()
    dropped = np.array(
        [np.linalg.lstsq(np.delete(X, i, 0), np.delete(y, i), rcond=None)[0][2]
         for i in range(len(y))]
    )  # fmt: skip
    expected = (len(y) - 1) * (dropped.mean() - dropped)
    np.testing.assert_allclose(jackknife_influence(y, X, 2), expected, rtol=1e-9, atol=1e-12)


def test_large_samples_use_the_jackknife_for_acceleration(monkeypatch):
    monkeypatch.setattr(bootstrap, "MAX_REGRESSION_N", 10)
    y, X = _data(n=30)
    reps = bootstrap_replicates(y, X, 2, 200, seed=2)
    np.testing.assert_allclose(reps.influence, jackknife_influence(y, X, 2))


def test_norm_inter_uses_exact_order_statistics_and_extremes():
    t = np.arange(1.0, 20.0)  # R = 19: rank (R + 1)α is an integer for α = .05
    np.testing.assert_allclose(norm_inter(t, np.array([0.05, 0.95])), [1.0, 19.0])
    np.testing.assert_allclose(norm_inter(t, np.array([0.001, 0.999])), [1.0, 19.0])
    middle = norm_inter(t, np.array([0.5 + 1 / 40]))[0]
    assert 10.0 < middle < 11.0


def test_bca_is_undefined_when_every_replicate_is_on_one_side():
    low, high = bca_interval(0.0, np.ones(100), np.array([1.0, -1.0]), 0.95)
    assert np.isnan(low) and np.isnan(high)


def test_bca_without_skew_or_bias_is_close_to_the_percentile_interval():
    rng = np.random.default_rng(0)
    t = rng.normal(0.0, 1.0, 20_001)
    influence = rng.normal(0.0, 1.0, 50)
    influence -= influence.mean()
    influence = np.concatenate([influence, -influence])  # symmetric: acceleration 0
    low, high = bca_interval(float(np.median(t)), t, influence, 0.95)
    np.testing.assert_allclose([low, high], np.quantile(t, [0.025, 0.975]), atol=0.02)


def test_influence_regression_fed_in_chunks_equals_one_least_squares_fit():
    from alliance.inference.bootstrap import InfluenceRegression, resample_counts

    y, X = _data(n=15)
    idx = np.vstack(list(bootstrap_indices(15, 3000, seed=8)))
    counts = resample_counts(idx, 15)
    t = resampled_coefficients(y, X, 2, idx)
    t[5] = np.nan  # a rank-deficient replicate is left out, as boot does
    design = np.column_stack([np.ones(2999), np.delete(counts, 5, axis=0)[:, 1:] / 15])
    beta = np.linalg.lstsq(design, np.delete(t, 5), rcond=None)[0][1:]
    expected = np.concatenate([[0.0], beta])
    regression = InfluenceRegression(15)
    for rows in (slice(0, 1024), slice(1024, 2048), slice(2048, 3000)):
        regression.add(t[rows], counts[rows])
    np.testing.assert_allclose(
        regression.influence(), expected - expected.mean(), rtol=1e-10, atol=1e-12
    )


def test_jackknife_and_regression_acceleration_agree_above_the_switch():
    """Above MAX_REGRESSION_N the jackknife replaces boot.ci's regression estimate: on the
    same replicates the two give BCa limits within a small fraction of the interval."""
    y, X = _data(n=bootstrap.MAX_REGRESSION_N, seed=3)
    reps = bootstrap_replicates(y, X, 2, 4000, seed=1)
    assert reps.influence is not None and len(reps.influence) == len(y)
    regression = bca_interval(reps.estimate, reps.values, reps.influence)
    jackknife = bca_interval(reps.estimate, reps.values, jackknife_influence(y, X, 2))
    width = regression[1] - regression[0]
    assert np.max(np.abs(np.subtract(regression, jackknife))) < 0.01 * width


def test_same_replicates_on_one_thread_or_several(monkeypatch):
    import alliance.inference.streams as streams
    from alliance.inference.streams import CHUNK

    y, X = _data(n=150, seed=5)
    monkeypatch.setattr(streams, "PARALLEL_VALUES", 0)  # threads even for this small job
    monkeypatch.setattr(streams, "BLOCK_VALUES", 150 * 100)  # several blocks per chunk
    monkeypatch.setenv(streams.THREADS_VARIABLE, "1")
    serial = bootstrap_replicates(y, X, 2, 2 * CHUNK + 5, seed=(1, 2))
    monkeypatch.setenv(streams.THREADS_VARIABLE, "3")
    threaded = bootstrap_replicates(y, X, 2, 2 * CHUNK + 5, seed=(1, 2))
    np.testing.assert_array_equal(threaded.values, serial.values)
    np.testing.assert_array_equal(threaded.influence, serial.influence)
    # and the replicates are the refits of the resamples bootstrap_indices reports
    idx = np.vstack(list(bootstrap_indices(150, 2 * CHUNK + 5, seed=(1, 2))))
    np.testing.assert_allclose(serial.values, resampled_coefficients(y, X, 2, idx), rtol=1e-12)
