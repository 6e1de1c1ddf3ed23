"""BCa intervals against R's boot::boot.ci(type = "bca") (tests/r/bootstrap_reference.R).

Fed R's own replicates and resampling frequencies, the interval arithmetic (bias correction,
regression influence values, acceleration, normal-scale interpolation) must agree exactly; with
its own 20,000 resamples, alliance must agree with R's 20,000 within Monte Carlo error.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from alliance.inference.bootstrap import (
    bca_bootstrap,
    bca_interval,
    bootstrap_replicates,
    regression_influence,
)
from tests.test_hc3_reference import design

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "r" / "bootstrap" / "bca.json").read_text()
)
CASES = [
    (dataset, model)
    for dataset in ("article_like", "crossover_missing")
    for model in REFERENCE[dataset]
]
IDS = [f"{d}-{m['outcome']}-{m['timepoint']}" for d, m in CASES]


@pytest.mark.parametrize(("dataset", "model"), CASES, ids=IDS)
def test_bca_arithmetic_matches_boot_ci_on_the_same_replicates(dataset, model):
    y, X = design(dataset, model["outcome"], model["timepoint"])
    assert len(y) == model["n"]
    estimate = float(np.linalg.lstsq(X, y, rcond=None)[0][2])
    t0 = float(model["t0"])  # exact doubles travel as "%.17g" strings
    np.testing.assert_allclose(estimate, t0, rtol=1e-10)
    for run, levels in (("exact", {"bca95": 0.95, "bca90": 0.90}), ("few", {"bca95": 0.95})):
        t = np.array(model[run]["t"], dtype=float)
        influence = regression_influence(t, np.array(model[run]["frequencies"]))
        for key, level in levels.items():
            limits = bca_interval(t0, t, influence, level)
            expected = np.array(model[run][key], dtype=float)
            np.testing.assert_allclose(limits, expected, rtol=1e-10, err_msg=f"{run} {key}")


def _monte_carlo_sd(y, X, resamples: int, runs: int = 16) -> np.ndarray:
    """SD of the BCa limits over independent runs of ``resamples`` (alliance's own draws)."""
    limits = [bca_bootstrap(y, X, 2, resamples, seed=(777, run)) for run in range(runs)]
    return np.array([[r.ci_low, r.ci_high] for r in limits]).std(axis=0, ddof=1)


@pytest.mark.parametrize(("dataset", "model"), CASES, ids=IDS)
def test_bca_limits_agree_with_r_within_monte_carlo_error(dataset, model):
    y, X = design(dataset, model["outcome"], model["timepoint"])
    resamples = model["monte_carlo"]["R"]
    ours = bca_bootstrap(y, X, 2, resamples, seed=(2024, 1))
    assert ours.replicates_dropped == 0
    # Monte Carlo SD of a limit at R resamples, from 16 runs of R/10 scaled by sqrt(1/10);
    # both R's and our limits carry that error, so their difference has sqrt(2) times it.
    sd = _monte_carlo_sd(y, X, resamples // 10) / np.sqrt(10)
    difference = np.array([ours.ci_low, ours.ci_high]) - np.array(
        model["monte_carlo"]["bca95"], dtype=float
    )
    assert np.all(np.abs(difference) < 4 * np.sqrt(2) * sd), (difference, sd)


def test_monte_carlo_tolerance_is_tight_enough_to_catch_a_percentile_interval():
    """The percentile interval differs from BCa by more than the tolerance used above."""
    failures = 0
    for dataset, model in CASES:
        y, X = design(dataset, model["outcome"], model["timepoint"])
        reps = bootstrap_replicates(y, X, 2, 20_000, seed=(2024, 1))
        percentile = np.quantile(reps.values, [0.025, 0.975])
        sd = _monte_carlo_sd(y, X, 2000) / np.sqrt(10)
        difference = percentile - np.array(model["monte_carlo"]["bca95"], dtype=float)
        failures += bool(np.any(np.abs(difference) >= 4 * np.sqrt(2) * sd))
    assert failures >= 3


def test_results_carry_the_bca_interval_of_each_model_from_its_own_stream():
    from alliance.models.plan import load_plan
    from alliance.pipeline import analyze, load_data

    plan = load_plan().with_overrides(permutations=0, bootstrap=999)
    data = load_data(Path(__file__).parent / "fixtures" / "data" / "article_like.csv")
    analysis = analyze(data, plan, seed=5)
    for k, (model, (_, reference)) in enumerate(zip(analysis.models, CASES[:6], strict=True)):
        y, X = design("article_like", reference["outcome"], reference["timepoint"])
        expected = bca_bootstrap(y, X, 2, 999, seed=(5, k))
        term = model.extras["term"]
        np.testing.assert_allclose(
            [term["bootstrap_ci_low"], term["bootstrap_ci_high"]],
            [expected.ci_low, expected.ci_high],
            rtol=1e-12,
        )
        assert model.extras["bootstrap"]["resamples_used"] == 999
