"""The synthetic trial generator: its algebra, its calibration targets, its items and its marker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from alliance.errors import PlanError
from alliance.instruments.registry import load_instruments
from alliance.instruments.reliability import cronbach_alpha
from alliance.synthetic.items import spread_totals
from alliance.synthetic.marginals import (
    Moments,
    RatioDistribution,
    solve_ratio,
    truncated_normal_moments,
)
from alliance.synthetic.model import build_model, design_counts
from alliance.synthetic.settings import load_calibration, parse_calibration
from alliance.synthetic.simulate import SimulationOptions, simulate
from alliance.synthetic.totals import draw_totals

CAL = load_calibration()
RATIO = RatioDistribution(
    response=0.8, cut=0.7, responder_mean=0.25, nonresponder_mean=0.85, concentration=6.0
)


# ------------------------------------------------------------------------------ the algebra


def test_ratio_moments_match_integration_of_the_quantile_function():
    mean = integrate.quad(lambda u: RATIO.quantile(np.array([u]))[0], 0, 1, points=[0.8])[0]
    second = integrate.quad(lambda u: RATIO.quantile(np.array([u]))[0] ** 2, 0, 1, points=[0.8])[0]
    moments = RATIO.moments()
    assert moments.mean == pytest.approx(mean, rel=1e-8)
    assert moments.second == pytest.approx(second, rel=1e-8)


def test_ratio_response_rate_is_exact_and_quantile_is_continuous_at_the_cut():
    below, at, above = RATIO.quantile(np.array([0.8 - 1e-12, 0.8, 0.8 + 1e-12]))
    assert at == pytest.approx(0.7, abs=1e-12)
    assert 0.699 < below < 0.7 < above < 0.701
    grid = np.linspace(0.001, 0.999, 999)
    assert np.all(np.diff(RATIO.quantile(grid)) >= 0)
    assert np.mean(RATIO.quantile(grid) <= 0.7) == pytest.approx(0.8, abs=1e-3)


def test_latent_covariance_matches_direct_integration():
    def integrand(e: float) -> float:
        return e * RATIO.quantile(np.array([stats.norm.cdf(e)]))[0] * stats.norm.pdf(e)

    direct = integrate.quad(integrand, -12, 12, points=[stats.norm.ppf(0.8)], limit=400)[0]
    assert RATIO.latent_covariance() == pytest.approx(direct, rel=1e-7)


def test_solve_ratio_meets_mean_and_sd_of_post_exactly():
    baseline = truncated_normal_moments(79.0, 12.0, 50.0, 136.0)
    post = Moments(24.6, 18.6**2 + 24.6**2)
    ratio = solve_ratio(10 / 12, 0.7, 0.8, post, baseline)
    implied = baseline.times(ratio.moments())
    assert implied.mean == pytest.approx(24.6, rel=1e-10)
    assert implied.sd == pytest.approx(18.6, rel=1e-8)


def test_unreachable_sd_is_reported_with_the_reachable_range():
    baseline = truncated_normal_moments(79.0, 12.0, 50.0, 136.0)
    with pytest.raises(ValueError, match="reachable SDs lie between"):
        solve_ratio(10 / 12, 0.7, 0.95, Moments(24.6, 5.0**2 + 24.6**2), baseline)


def test_design_counts_reproduce_the_published_designs():
    seed_article = design_counts(CAL.design)  # 23 enrolled, 22 received MDMA
    assert (seed_article.mdma, seed_article.placebo, seed_article.crossover) == (14, 9, 8)
    assert seed_article.mdma_episodes == 22
    mithoefer = design_counts(CAL.design.model_copy(update={"n": 20}))
    assert (mithoefer.mdma, mithoefer.placebo, mithoefer.crossover) == (12, 8, 7)  # 19 treated


# -------------------------------------------------------------------- calibration targets

SEEDS = 400


@pytest.fixture(scope="module")
def many_trials() -> pd.DataFrame:
    """The totals of SEEDS trials of the published size, drawn as ``alliance simulate`` does."""
    model = build_model(CAL)
    counts = design_counts(CAL.design)
    instruments = load_instruments()
    frames = []
    for seed in range(SEEDS):
        totals = draw_totals(np.random.default_rng(seed), model, counts, instruments)
        frames.append(totals.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def _within_binomial(successes: int, trials: int, p: float) -> bool:
    low, high = stats.binom.ppf([0.0005, 0.9995], trials, p)
    return bool(low <= successes <= high)


@pytest.mark.parametrize(
    ("arm", "target"), [("mdma", 10 / 12), ("placebo", 2 / 8)]
)  # Mithoefer et al. (2011)
def test_caps_response_rates_of_the_randomised_phase(many_trials, arm, target):
    phase = many_trials[(many_trials["phase"] == "randomized") & (many_trials["arm"] == arm)]
    responders = int((phase["caps__post"] <= 0.7 * phase["caps__baseline"]).sum())
    assert _within_binomial(responders, len(phase), target), responders / len(phase)


def test_caps_at_exit_of_mdma_episodes_has_the_published_mean_and_sd(many_trials):
    """Mithoefer et al. (2013): CAPS at study exit 24.6 (SD 18.6) over all MDMA-treated."""
    episode = (many_trials["phase"] == "open_label") | (many_trials["arm"] == "mdma")
    posts = many_trials[episode]
    per_trial = posts.groupby("seed")["caps__post"]
    means = per_trial.mean()
    se_mean = means.std(ddof=1) / np.sqrt(SEEDS)
    assert abs(means.mean() - 24.6) < 3.5 * se_mean
    variances = per_trial.var(ddof=1)  # unbiased per trial, so their mean estimates 18.6²
    se_var = variances.std(ddof=1) / np.sqrt(SEEDS)
    assert abs(variances.mean() - 18.6**2) < 3.5 * se_var
    # The tolerance is not so loose that a clearly different SD would pass.
    assert abs(variances.mean() - 16.0**2) > 3.5 * se_var


def test_design_is_exact_in_every_trial(many_trials):
    per_trial = many_trials.groupby("seed")
    assert (per_trial["participant_id"].nunique() == 23).all()
    assert (per_trial.apply(lambda t: int((t["phase"] == "open_label").sum())) == 8).all()
    crossovers = many_trials[many_trials["phase"] == "open_label"]
    assert (crossovers["arm"] == "placebo").all()


def test_open_label_baseline_is_the_placebo_phase_post(many_trials):
    keys = ["seed", "participant_id"]
    randomised = many_trials[many_trials["phase"] == "randomized"].set_index(keys)
    open_label = many_trials[many_trials["phase"] == "open_label"].set_index(keys)
    for outcome in ("caps", "iesr"):
        np.testing.assert_array_equal(
            open_label[f"{outcome}__baseline"],
            randomised.loc[open_label.index, f"{outcome}__post"],
        )


def _partial_r(y: np.ndarray, baseline: np.ndarray, x: np.ndarray) -> float:
    Z = np.column_stack([np.ones_like(y), baseline])
    ry = y - Z @ np.linalg.lstsq(Z, y, rcond=None)[0]
    rx = x - Z @ np.linalg.lstsq(Z, x, rcond=None)[0]
    return float(np.corrcoef(ry, rx)[0, 1])


@pytest.mark.parametrize("effects", [{}, {"caps": {"s4": -0.2}, "iesr": {"pre_s3": 0.0}}])
def test_partial_r_of_every_model_is_the_target(effects):
    """The population partial r of post with alliance given baseline, on MDMA episodes."""
    options = SimulationOptions(partial_r=effects)
    calibration = options.calibration(CAL)
    design = CAL.design.model_copy(update={"n": 30000})
    totals = draw_totals(
        np.random.default_rng(11), build_model(calibration), design_counts(design),
        load_instruments(),
    )  # fmt: skip
    episodes = totals[(totals["phase"] == "open_label") | (totals["arm"] == "mdma")]
    n = len(episodes)
    for outcome, targets in calibration.partial_r.items():
        for timepoint, target in targets.items():
            r = _partial_r(
                episodes[f"{outcome}__post"].to_numpy(float),
                episodes[f"{outcome}__baseline"].to_numpy(float),
                episodes[f"wai__{timepoint}"].to_numpy(float),
            )
            se = (1 - target**2) / np.sqrt(n)
            assert abs(r - target) < 4 * se, (outcome, timepoint, r, target)


def test_an_effect_beyond_what_the_distribution_allows_is_a_calibration_problem():
    options = SimulationOptions(partial_r={"caps": {"s4": -0.99}})
    with pytest.raises(PlanError, match=r"partial_r\.caps\.s4 .* out of reach"):
        simulate(CAL, 0, options)


@pytest.mark.parametrize("arms", [(float("nan"), 1.0), (float("inf"), 1.0), (-1.0, 5.0), (0, 0)])
def test_arms_must_be_finite_non_negative_weights(arms):
    with pytest.raises(PlanError, match="arms must be two finite, non-negative weights") as info:
        simulate(CAL, 0, SimulationOptions(arms=arms))
    assert "Value error" not in str(info.value)  # pydantic's prefix is not for users


def test_a_bad_calibration_file_names_the_entry():
    text = load_calibration_text().replace("post_sd = 18.6", "post_sd = -1")
    with pytest.raises(PlanError, match=r"outcomes\.caps\.mdma\.post_sd"):
        parse_calibration(text, "mine.toml")


def load_calibration_text() -> str:
    from importlib import resources

    return resources.files("alliance.synthetic").joinpath("calibration.toml").read_text("utf-8")


# ----------------------------------------------------------------------------------- items


@pytest.mark.parametrize("code", ["WAI", "WAI_SR", "CAPS4", "CAPS5", "IESR"])
def test_spread_totals_sum_exactly_within_range(code):
    inst = load_instruments()[code]
    k = len(inst.item_codes)
    low, high = int(inst.response_min), int(inst.response_max)
    rng = np.random.default_rng(3)
    totals = rng.integers(k * low, k * high + 1, 500)
    totals[:2] = (k * low, k * high)  # the extremes are reachable
    items = spread_totals(totals, inst, rng)
    np.testing.assert_array_equal(items.sum(axis=1), totals)
    assert items.min() >= low and items.max() <= high


@pytest.fixture(scope="module")
def complete_trial():
    return simulate(CAL, 4, SimulationOptions(n=60, missing_items=0.0, missing_visits=0.0))


def test_scoring_the_items_gives_back_the_drawn_totals(complete_trial):
    scores = complete_trial.scores.set_index(["participant_id", "phase"])
    totals = complete_trial.totals.set_index(["participant_id", "phase"]).loc[scores.index]
    for column in totals.columns.drop("arm"):
        np.testing.assert_array_equal(
            scores[column].to_numpy(float), totals[column].to_numpy(float)
        )


def test_items_are_internally_consistent_like_the_real_instruments(complete_trial):
    items = complete_trial.items
    wai = items[(items["instrument"] == "WAI") & (items["timepoint"] == "s4")]
    inst = load_instruments()["WAI"]
    matrix = wai.pivot_table(index=["participant_id", "phase"], columns="item", values="value")
    keyed = matrix.copy()
    reverse = [c for c in matrix.columns if c in inst.reverse_keyed]
    keyed[reverse] = 8 - keyed[reverse]
    assert 0.85 < cronbach_alpha(keyed.to_numpy()) < 0.99


def test_crossover_open_label_baseline_repeats_the_placebo_post_answers(complete_trial):
    items = complete_trial.items
    keys = ["participant_id", "instrument", "item"]
    post = items[(items["phase"] == "randomized") & (items["timepoint"] == "post")]
    open_baseline = items[(items["phase"] == "open_label") & (items["timepoint"] == "baseline")]
    merged = open_baseline.merge(post, on=keys, suffixes=("_ol", "_r"))
    assert len(merged) == len(open_baseline) > 0
    np.testing.assert_array_equal(merged["value_ol"], merged["value_r"])


def test_missing_rates_are_honoured_and_never_hit_clinician_items_or_enrolment():
    trial = simulate(CAL, 8, SimulationOptions(n=400, missing_items=0.05, missing_visits=0.1))
    items = trial.items
    # Carried open-label baselines repeat the placebo post's answers, blanks included.
    carried = (items["phase"] == "open_label") & (items["timepoint"] == "baseline")
    self_report = items["instrument"].isin(["WAI", "IESR"]) & ~carried
    blank = int(items.loc[self_report, "value"].isna().sum())
    assert _within_binomial(blank, int(self_report.sum()), 0.05), blank / self_report.sum()
    assert items.loc[items["instrument"] == "CAPS4", "value"].notna().all()
    enrolment = items[
        (items["phase"] == "randomized") & (items["timepoint"] == "baseline")
        & (items["instrument"] == "CAPS4")
    ]  # fmt: skip
    assert enrolment["participant_id"].nunique() == 400
    assessments = items.groupby(["participant_id", "phase", "instrument", "timepoint"]).ngroups
    # 10 % of assessments are lost, except enrolment; carried open-label baselines follow
    # the placebo post they repeat.
    lost = 1 - assessments / (len(trial.totals) * 7)
    assert 0.065 < lost < 0.105


def test_same_seed_same_trial_and_another_seed_another():
    a = simulate(CAL, 21)
    b = simulate(CAL, 21)
    c = simulate(CAL, 22)
    pd.testing.assert_frame_equal(a.items, b.items)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert not a.items["value"].equals(c.items["value"])
