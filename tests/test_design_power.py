"""Whole-plan power (``alliance power --design``): the vectorised generator, the batched fits
and corrections, and the family-wise figures against what theory says they must be."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from alliance.inference.multiplicity import METHODS, adjust_pvalues
from alliance.models.plan import load_plan
from alliance.power.analytic import random_design_power
from alliance.power.design import (
    adjust_rows,
    alliance_tests,
    design_cell,
    design_models,
    plan_tests,
)
from alliance.synthetic.batch import (
    GRID_LIMIT,
    Scenario,
    _lookup,
    build_batch_model,
    draw_episodes,
)

TIMEPOINTS = ("pre_s3", "s4", "s9")
OUTCOMES = ("caps", "iesr")


def effects(value: float = 0.0, **one: float) -> dict[str, dict[str, float]]:
    """Every model at ``value``; keyword ``caps_s4=0.3`` sets one model."""
    out = {o: dict.fromkeys(TIMEPOINTS, value) for o in OUTCOMES}
    for key, r in one.items():
        outcome, timepoint = key.split("_", 1)
        out[outcome][timepoint] = r
    return out


def article_models(adjust: str = "holm"):
    plan = load_plan(None).with_overrides(adjust=adjust)
    return design_models(plan, OUTCOMES, TIMEPOINTS), plan.multiplicity.method


def test_under_the_global_null_holm_keeps_the_family_wise_error_rate():
    models, method = article_models("holm")
    cell = design_cell(
        40, Scenario(effects(0.0), missing_rate=0.1), models, method, 0.05, 6000,
        np.random.SeedSequence(11),
    )  # fmt: skip
    assert cell["family_any"] <= 0.05 + 3 * cell["family_any_mc_se"]
    # The same null without correction rejects somewhere far more often: the test can fail.
    models, _ = article_models("none")
    uncorrected = design_cell(
        40, Scenario(effects(0.0), missing_rate=0.1), models, "none", 0.05, 6000,
        np.random.SeedSequence(11),
    )  # fmt: skip
    assert uncorrected["family_any"] > 0.05 + 10 * uncorrected["family_any_mc_se"]
    assert cell["family_all"] <= cell["family_any"]


def test_one_true_effect_without_correction_matches_the_exact_random_design_power():
    models, method = article_models("none")
    n = 60
    cell = design_cell(
        n, Scenario(effects(0.0, caps_s4=0.3), errors="normal"), models, method, 0.05, 10_000,
        np.random.SeedSequence(3),
    )  # fmt: skip
    for row in cell["models"]:
        r = 0.3 if (row["outcome"], row["timepoint"]) == ("caps", "s4") else 0.0
        exact = random_design_power(r, n, 1) if r else 0.05
        assert abs(row["power"] - exact) <= 3 * row["mc_se"], (row, exact)
        assert row["mean_n"] == n


def test_the_skewed_generator_recovers_the_partial_r_it_is_given():
    bm = build_batch_model(Scenario(effects(-0.35, iesr_pre_s3=-0.1)))
    episodes = draw_episodes(np.random.default_rng(5), bm, 1, 30_000)
    for outcome in OUTCOMES:
        for timepoint in TIMEPOINTS:
            y = episodes.post[outcome][0]
            b = episodes.baseline[outcome][0]
            w = episodes.alliance[timepoint][0]
            t, df, _ = alliance_tests(y, b, w)
            r = float(t / math.sqrt(t * t + df))
            target = -0.1 if (outcome, timepoint) == ("iesr", "pre_s3") else -0.35
            # 4 standard errors, plus the 1 % attenuation of rounding totals to whole numbers
            assert abs(r - target) < 4 * (1 - target**2) / math.sqrt(30_000) + 0.01 * abs(target)


def test_the_tabulated_quantiles_match_the_exact_ones():
    bm = build_batch_model(Scenario(effects(-0.3)))
    e = np.random.default_rng(1).uniform(-GRID_LIMIT, GRID_LIMIT, 5000)
    for j, outcome in enumerate(bm.model.outcomes):
        exact = outcome.mdma.quantile(stats.norm.cdf(e))
        assert np.max(np.abs(_lookup(e, bm.tables.mdma[j]) - exact)) < 3e-4
        exact = outcome.placebo.quantile(stats.norm.cdf(e))
        assert np.max(np.abs(_lookup(e, bm.tables.placebo[j]) - exact)) < 3e-4


def test_batched_fits_equal_statsmodels_on_complete_cases():
    bm = build_batch_model(Scenario(effects(-0.3), missing_rate=0.2, missing_mechanism="mar"))
    episodes = draw_episodes(np.random.default_rng(8), bm, 5, 30)
    models, _ = article_models()
    t, df, count = plan_tests(episodes, models)
    for i in range(5):
        for j, m in enumerate(models):
            y = episodes.post[m.outcome][i]
            b = episodes.baseline[m.outcome][i]
            w = episodes.alliance[m.timepoint][i]
            keep = ~(np.isnan(y) | np.isnan(b) | np.isnan(w))
            fit = sm.OLS(y[keep], sm.add_constant(np.column_stack([b[keep], w[keep]]))).fit()
            assert t[i, j] == pytest.approx(fit.tvalues[2], rel=1e-9)
            assert df[i, j] == fit.df_resid and count[i, j] == keep.sum()


def test_closed_form_fit_matches_statsmodels_and_flags_what_cannot_be_estimated():
    rng = np.random.default_rng(12)
    b = rng.normal(40, 10, (4, 25))
    w = 100 + 0.9 * (b - 40) + rng.normal(0, 8, (4, 25))  # alliance correlated with baseline
    y = 0.7 * b + 0.2 * w + rng.normal(0, 5, (4, 25))
    w[1] = 150.0  # constant alliance: collinear with the intercept
    w[2] = 3 * b[2] + 7  # alliance an exact function of baseline
    y[3, 4:] = np.nan  # four complete cases: df = 1, still estimable
    t, df, count = alliance_tests(y, b, w)
    fit = sm.OLS(y[0], sm.add_constant(np.column_stack([b[0], w[0]]))).fit()
    assert t[0] == pytest.approx(fit.tvalues[2], rel=1e-10) and df[0] == 22
    assert np.isnan(t[1]) and np.isnan(df[1]) and np.isnan(t[2]) and np.isnan(df[2])
    keep = slice(0, 4)
    fit = sm.OLS(y[3, keep], sm.add_constant(np.column_stack([b[3, keep], w[3, keep]]))).fit()
    assert t[3] == pytest.approx(fit.tvalues[2], rel=1e-9) and df[3] == 1 and count[3] == 4
    y[3, 3] = np.nan  # three complete cases: no residual degree of freedom
    t, df, count = alliance_tests(y, b, w)
    assert np.isnan(t[3]) and count[3] == 3


@pytest.mark.parametrize("method", METHODS)
def test_row_wise_adjustment_equals_r_p_adjust(method):
    rng = np.random.default_rng(4)
    p = rng.random((300, 6)) ** 3
    p[rng.random((300, 6)) < 0.2] = np.nan
    p[0] = np.nan
    expected = np.array([adjust_pvalues(row, method) for row in p])
    np.testing.assert_allclose(adjust_rows(p, method), expected, rtol=1e-12, equal_nan=True)


def test_missing_at_random_depends_on_severity_and_keeps_the_overall_rate():
    bm = build_batch_model(Scenario(effects(-0.3), missing_rate=0.3, missing_mechanism="mar"))
    episodes = draw_episodes(np.random.default_rng(2), bm, 200, 100)
    missing = np.isnan(episodes.alliance["s4"])
    assert abs(missing.mean() - 0.3) < 0.01
    assert not np.isnan(episodes.baseline["caps"]).any()  # the enrolment score is never lost
    severe = episodes.baseline["caps"] > np.nanmedian(episodes.baseline["caps"])
    # Crossover episodes start after placebo; among the others severity drives the odds.
    assert missing[severe].mean() > missing[~severe].mean() + 0.05
    mcar = build_batch_model(Scenario(effects(-0.3), missing_rate=0.3))
    episodes = draw_episodes(np.random.default_rng(2), mcar, 200, 100)
    missing = np.isnan(episodes.alliance["s4"])
    assert abs(missing.mean() - 0.3) < 0.01
    severe = episodes.baseline["caps"] > np.nanmedian(episodes.baseline["caps"])
    assert abs(missing[severe].mean() - missing[~severe].mean()) < 0.02


def test_therapist_clustering_gives_the_icc_asked():
    bm = build_batch_model(Scenario(effects(-0.3), errors="normal", therapists=4, icc=0.3))
    episodes = draw_episodes(np.random.default_rng(9), bm, 4000, 8)
    w = episodes.alliance["s9"]
    same = np.corrcoef(w[:, 0], w[:, 4])[0, 1]  # episodes 0 and 4 share therapist 0
    other = np.corrcoef(w[:, 0], w[:, 1])[0, 1]
    assert abs(same - 0.3) < 0.05 and abs(other) < 0.05


def test_a_cell_depends_on_its_seed_alone_and_repeats_exactly():
    models, method = article_models()
    scenario = Scenario(effects(0.25), missing_rate=0.05)
    seed = np.random.SeedSequence(5).spawn(3)[2]
    first = design_cell(50, scenario, models, method, 0.05, 1500, seed)
    again = design_cell(
        50, scenario, models, method, 0.05, 1500, np.random.SeedSequence(5).spawn(3)[2]
    )
    assert first == again


@pytest.mark.parametrize(
    "scenario, message",
    [
        (Scenario(effects(0.3), missing_rate=1.0), "missing rate"),
        (Scenario(effects(0.3), therapists=3, icc=1.0), "ICC"),
        (Scenario(effects(1.0)), "between -1 and 1"),
        (Scenario(effects(0.95)), "out of reach"),
    ],
)
def test_impossible_scenarios_are_named(scenario, message):
    with pytest.raises(ValueError, match=message):
        build_batch_model(scenario)


def test_a_plan_the_generator_cannot_simulate_is_refused():
    plan = load_plan(None).model_copy(update={"covariates": ("age",)})
    with pytest.raises(ValueError, match="covariates age"):
        design_models(plan, OUTCOMES, TIMEPOINTS)
