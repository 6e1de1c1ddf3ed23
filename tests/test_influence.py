"""Leave-one-out influence against R (tests/r/influence_reference.R: dfbeta and refits) and the
conclusion-flip rule worked by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

from alliance.inference.influence import conclusion_flips, leave_one_out_p
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data

HERE = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((HERE / "r" / "robust" / "influence.json").read_text())


@pytest.mark.parametrize("dataset", ["article_like", "crossover_missing"])
def test_dfbeta_and_leave_one_out_p_match_r(dataset):
    plan = load_plan().with_overrides(permutations=0)
    analysis = analyze(load_data(HERE / "data" / f"{dataset}.csv"), plan)
    for model, reference in zip(analysis.models, REFERENCE[dataset], strict=True):
        rows = {r["participant_id"]: r for r in model.extras["influence"]}
        assert sorted(rows) == sorted(reference["participant_ids"])
        ours_dfbeta = [rows[pid]["dfbeta"] for pid in reference["participant_ids"]]
        ours_p = [rows[pid]["p_without"] for pid in reference["participant_ids"]]
        np.testing.assert_allclose(ours_dfbeta, reference["dfbeta"], rtol=1e-8)
        np.testing.assert_allclose(ours_p, reference["p_without"], rtol=1e-8, atol=1e-15)


def test_conclusion_flips_by_hand():
    # Two models, Holm over both at alpha .05: p = .01 and .03 -> adjusted .02, .03: both survive.
    p_full = [0.01, 0.03]
    # Dropping "a" raises model 2's p to .2: adjusted .02, .2 -> model 2 no longer survives.
    # Dropping "b" lowers model 1's p: nothing flips. "c" is only in model 1.
    p_without = [{"a": 0.01, "b": 0.001, "c": 0.02}, {"a": 0.2, "b": 0.03}]
    flips = conclusion_flips(p_full, p_without, ["all", "all"], "holm", 0.05)
    assert flips == {"a": [False, True], "b": [False, False], "c": [False, False]}


def _refit_p(y: np.ndarray, X: np.ndarray, term: int) -> float:
    """p of one coefficient by an explicit least-squares refit (what R's lm reports)."""
    from scipy import stats

    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    df = len(y) - X.shape[1]
    resid = y - X @ coef
    se = np.sqrt(resid @ resid / df * np.linalg.inv(X.T @ X)[term, term])
    return float(2 * stats.t.sf(abs(coef[term] / se), df))


@pytest.mark.parametrize("seed", range(6))
def test_closed_form_leave_one_out_p_equals_refits(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 40))
    site = rng.integers(0, 3, n)
    X = np.column_stack(
        [np.ones(n), rng.normal(80, 12, n), rng.normal(200, 25, n), site == 1, site == 2]
    ).astype(float)
    y = X @ [5, 0.5, -0.2, 3, -2] + rng.standard_t(3, n) * 10
    expected = [_refit_p(np.delete(y, i), np.delete(X, i, axis=0), 2) for i in range(n)]
    np.testing.assert_allclose(leave_one_out_p(y, X, 2), expected, rtol=1e-9)


def test_participant_alone_in_a_covariate_level_is_refitted_without_that_level():
    # Dropping the only participant of a site leaves its dummy all zeros: lm drops the column
    # and still tests the alliance term on the others.
    rng = np.random.default_rng(3)
    n = 15
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n), np.eye(n)[0]])
    y = X[:, :3] @ [1.0, 0.5, 0.8] + rng.normal(size=n)
    p = leave_one_out_p(y, X, 2)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[0], _refit_p(y[1:], X[1:, :3], 2), rtol=1e-10)
    np.testing.assert_allclose(p[1], _refit_p(y[[0, *range(2, n)]], X[[0, *range(2, n)]], 2))
