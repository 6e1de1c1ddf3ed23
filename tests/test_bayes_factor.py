"""JZS Bayes factors against R's BayesFactor (tests/r/bayes_factor_reference.R) and by property."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from alliance.inference.bayes_factor import MEDIUM, bf10, log_bf10, log_bf_vs_null

HERE = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((HERE / "r" / "bayes" / "bf10.json").read_text())


def _design(dataset: str, outcome: str, timepoint: str, age: bool):
    episodes = pd.read_csv(HERE / "r" / "models" / f"{dataset}_episodes.csv")
    cols = [f"{outcome}__post", f"{outcome}__baseline", f"wai__{timepoint}", "age"]
    frame = episodes[cols].dropna()
    columns = [np.ones(len(frame)), frame[cols[1]]] + ([frame["age"]] if age else [])
    X = np.column_stack([*columns, frame[cols[2]]])
    return frame[cols[0]].to_numpy(float), X


@pytest.mark.parametrize("dataset", ["article_like", "crossover_missing"])
def test_bf10_matches_lmbf_ratio(dataset):
    """R's quadrature is itself accurate to about 1e-6 relative; log BFs agree to 1e-6."""
    for model in REFERENCE[dataset]:
        y, X = _design(dataset, model["outcome"], model["timepoint"], age=False)
        assert len(y) == model["n"]
        np.testing.assert_allclose(log_bf10(y, X, 2), model["log_bf10"], rtol=1e-6, atol=1e-7)
        y, X = _design(dataset, model["outcome"], model["timepoint"], age=True)
        np.testing.assert_allclose(log_bf10(y, X, 3), model["log_bf10_age"], rtol=1e-6, atol=1e-7)


def test_bf_vs_null_matches_linearreg_r2stat_at_the_edges():
    for row in pd.DataFrame(REFERENCE["vs_null"]).itertuples():
        ours = log_bf_vs_null(row.R2, int(row.N), int(row.p))
        assert ours == pytest.approx(row.log_bf, rel=1e-6, abs=1e-7), row


def test_bf_vs_null_equals_brute_force_integration_over_g():
    n, p, r2, r = 22, 2, 0.4, MEDIUM
    prior = stats.invgamma(0.5, scale=r**2 * n / 2)

    def integrand(g):
        return (1 + g) ** ((n - p - 1) / 2) * (1 + g * (1 - r2)) ** (-(n - 1) / 2) * prior.pdf(g)

    value = sum(integrate.quad(integrand, a, b, limit=400)[0]
                for a, b in ((0, 1), (1, 100), (100, np.inf)))  # fmt: skip
    assert np.exp(log_bf_vs_null(r2, n, p)) == pytest.approx(value, rel=1e-8)


def _data(effect: float, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(79, 12, n)
    wai = rng.normal(200, 22, n)
    y = 5 + 0.5 * baseline + effect * wai + rng.normal(0, 10, n)
    return y, np.column_stack([np.ones(n), baseline, wai])


def test_strong_effects_favour_alliance_and_null_effects_favour_the_null_more_with_n():
    y, X = _data(-0.5, 22)
    assert bf10(y, X, 2) > 10
    small = np.mean([log_bf10(*_data(0.0, 22, s), 2) for s in range(20)])
    large = np.mean([log_bf10(*_data(0.0, 400, s), 2) for s in range(20)])
    assert large < small < 0


def test_bf10_is_invariant_to_linear_rescaling_of_outcome_and_alliance():
    y, X = _data(-0.3, 22)
    rescaled = X.copy()
    rescaled[:, 2] = 3.0 * X[:, 2] - 50.0
    assert log_bf10(10.0 * y + 7.0, rescaled, 2) == pytest.approx(log_bf10(y, X, 2), rel=1e-9)


def test_huge_evidence_does_not_overflow_in_log_space():
    y, X = _data(-2.0, 600)
    value = log_bf10(y, X, 2)
    assert np.isfinite(value) and value > 700  # BF itself would overflow a double


def test_results_carry_bf10_of_lmbf_for_every_model():
    from alliance.models.plan import load_plan
    from alliance.pipeline import analyze, load_data

    plan = load_plan().with_overrides(permutations=0, bootstrap=0)
    analysis = analyze(load_data(HERE / "data" / "article_like.csv"), plan)
    for model, reference in zip(analysis.models, REFERENCE["article_like"], strict=True):
        log_bf = model.extras["bayes_factor"]["log_bf10"]
        assert log_bf == pytest.approx(reference["log_bf10"], rel=1e-6, abs=1e-7)
        assert model.extras["term"]["bf10"] == pytest.approx(np.exp(log_bf), rel=1e-12)
