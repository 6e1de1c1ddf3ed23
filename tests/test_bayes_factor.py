"""JZS Bayes factors against R's BayesFactor (tests/r/bayes_factor_reference.R), a closed form,
an independent brute-force integration over g, and by property.

Agreement with R is asserted on the Bayes factor at rtol 1e-6, checked in log space as
|Δ log BF| ≤ 1e-6 (|ΔBF/BF| ≈ |Δ log BF|): a relative tolerance on log BF itself would mean
nothing where log BF ≈ 0 (BF ≈ 1, the inconclusive cases) and would be loose where it is large
(1e-6 of log BF = 777 lets the BF drift by 0.08 %), and the BF itself overflows in one case.
lmBF's default quadrature is itself only that accurate (up to 9.5e-7 off), so Python is held
much tighter (1e-9) to R's integrand integrated at rel.tol 1e-13 (the "_tight" values).
"""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from alliance.inference.bayes_factor import (
    MEDIUM,
    bf01,
    bf10,
    jzs_bf_vs_null,
    log_bf10,
    log_jzs_bf_vs_null,
)

HERE = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((HERE / "r" / "bayes" / "bf10.json").read_text())
DATASETS = ["article_like", "crossover_missing"]
R_TOL = 1e-6  # on log BF, absolute: the BF at rtol 1e-6
TIGHT_TOL = 1e-9


def _episode_design(dataset: str, outcome: str, timepoint: str, covariate: str | None = None):
    """y and X = [1, baseline, (covariate), wai] on the model's complete cases, as the R script."""
    episodes = pd.read_csv(HERE / "r" / "models" / f"{dataset}_episodes.csv")
    cols = [f"{outcome}__post", f"{outcome}__baseline", f"wai__{timepoint}", "age"]
    frame = episodes[[*cols, "episode_phase"]].dropna()
    extra = {
        None: [],
        "age": [frame["age"]],
        "phase": [(frame["episode_phase"] == "randomized").astype(float)],
    }[covariate]
    X = np.column_stack([np.ones(len(frame)), frame[cols[1]], *extra, frame[cols[2]]])
    return frame[cols[0]].to_numpy(float), X


def _close(ours: float, r: float, tol: float, rtol: float = 0.0) -> bool:
    return abs(ours - r) <= tol + rtol * abs(r)


@pytest.mark.parametrize("dataset", DATASETS)
def test_bf10_matches_the_lmbf_ratio_on_the_article_models(dataset):
    for model in REFERENCE[dataset]:
        for covariate, suffix in ((None, ""), ("age", "_age")):
            y, X = _episode_design(dataset, model["outcome"], model["timepoint"], covariate)
            assert len(y) == model["n"]
            assert model["method" + suffix] == "quadrature"  # exact, not sampled
            ours = log_bf10(y, X, X.shape[1] - 1)
            assert _close(ours, model["log_bf10" + suffix], R_TOL), (model, suffix)
            assert _close(ours, model["log_bf10_tight" + suffix], TIGHT_TOL), (model, suffix)
        y, X = _episode_design(dataset, model["outcome"], model["timepoint"])
        wide = log_bf10(y, X, 2, rscale=0.5)
        assert _close(wide, model["log_bf10_wide"], R_TOL)
        assert _close(wide, model["log_bf10_tight_wide"], TIGHT_TOL)


@pytest.mark.parametrize("dataset", DATASETS)
def test_bf01_is_rs_reduced_over_full_and_the_reciprocal_of_bf10(dataset):
    for model in REFERENCE[dataset]:
        y, X = _episode_design(dataset, model["outcome"], model["timepoint"])
        assert bf01(y, X, 2) == pytest.approx(math.exp(model["log_bf01"]), rel=R_TOL)
        assert bf01(y, X, 2) * bf10(y, X, 2) == pytest.approx(1.0, rel=1e-14)


def test_phase_dummy_shares_g_as_regressionbf_does_and_differs_from_lmbf_with_a_factor():
    for case in REFERENCE["categorical_phase"]:
        y, X = _episode_design(case["dataset"], case["outcome"], case["timepoint"], "phase")
        assert len(y) == case["n"] and X[:, 2].sum() == case["n_randomized"]
        ours = log_bf10(y, X, 3)
        # lmBF with phase as a numeric 0/1 column and regressionBF's "omit wai" (= bf01).
        assert _close(ours, case["dummy"]["log_bf10"], R_TOL), case
        assert _close(ours, case["dummy"]["log_bf10_tight"], TIGHT_TOL), case
        assert _close(-ours, case["regressionbf_top_log_bf_omit_wai"], R_TOL), case
        # lmBF with phase as a factor is a different prior (its own g), estimated by sampling:
        # the docstring's claim that the gap exceeds the sampling error several times over.
        factor = case["factor"]
        assert factor["method"] in ("simple", "importance")
        assert abs(ours - factor["log_bf10"]) > 5 * factor["error"], case


@pytest.mark.parametrize("case", REFERENCE["synthetic"], ids=lambda c: c["name"])
def test_bf10_matches_lmbf_on_synthetic_edge_cases(case):
    data = case["data"]
    columns = ["baseline", *(["age"] if "age" in data else []), "wai"]
    X = np.column_stack([np.ones(case["n"]), *(np.asarray(data[c], float) for c in columns)])
    y = np.asarray(data["post"], float)
    reference = case["age"] or case["plain"]
    ours = log_bf10(y, X, len(columns))
    assert _close(ours, reference["log_bf10"], R_TOL)
    # R's R² is mss / (mss + rss), ours 1 − rss/tss: near R² = 1 they differ in the last bits,
    # which moves a log BF of 777 by 1.5e-8 (relative 2e-11).
    assert _close(ours, reference["log_bf10_tight"], TIGHT_TOL, rtol=1e-10)
    if case["name"] == "r2_near_1":
        assert ours > 709 and bf10(y, X, 2) == math.inf and bf01(y, X, 2) == 0.0
    if case["name"] == "r2_near_0":
        assert case["r2_full"] < 1e-12 and ours < 0


def test_bf_vs_null_matches_linearreg_r2stat_over_the_grid():
    grid = pd.DataFrame(REFERENCE["vs_null"])
    scales = np.unique(grid["rscale"])
    np.testing.assert_allclose(scales, [MEDIUM, 0.5, math.sqrt(2) / 2, 1.0], rtol=1e-14)
    for row in grid.itertuples():
        ours = log_jzs_bf_vs_null(row.R2, int(row.N), int(row.p), row.rscale)
        assert _close(ours, row.log_bf, R_TOL), row
        assert _close(ours, row.log_bf_tight, TIGHT_TOL, rtol=1e-12), row


@pytest.mark.parametrize("n", [4, 6, 22, 200, 10_000])
@pytest.mark.parametrize("rscale", [MEDIUM, 1.0])
def test_closed_form_when_r_squared_is_zero(n, rscale):
    """With R² = 0 and t = 1/g the integral is √(s/π) ∫ t^((p−1)/2) (1 + t)^(−p/2) e^(−st) dt,
    s = r²N/2, = √(s/π) Γ((p+1)/2) U((p+1)/2, 3/2, s) (Tricomi). U(1, 3/2, s) = √(π/s) erfcx(√s)
    and U(3/2, 3/2, s) = eˢ Γ(−1/2, s) = 2(s^(−1/2) − √π erfcx(√s)) give
    p = 1: BF = erfcx(√s);  p = 2: BF = 1 − √(πs) erfcx(√s).
    (scipy's hyperu itself is only good to ~1e-8 here, so it is not used.)"""
    s = rscale**2 * n / 2
    one = special.erfcx(math.sqrt(s))
    assert jzs_bf_vs_null(0.0, n, 1, rscale) == pytest.approx(one, rel=1e-11)
    if n > 3:
        two = 1.0 - math.sqrt(math.pi * s) * one
        assert jzs_bf_vs_null(0.0, n, 2, rscale) == pytest.approx(two, rel=1e-10)


@pytest.mark.parametrize(
    ("n", "p", "r2", "rscale"),
    [(4, 2, 0.9, MEDIUM), (22, 2, 0.4, MEDIUM), (22, 3, 0.05, 1.0), (300, 5, 0.6, 0.5),
     (100_000, 1, 0.001, MEDIUM), (50, 1, 1 - 1e-10, MEDIUM)],
)  # fmt: skip
def test_bf_vs_null_equals_a_brute_force_sum_over_a_fine_grid_of_g(n, p, r2, rscale):
    """Trapezoid sum over log g (exponentially accurate for this smooth, fast-decaying
    integrand), with the density from scipy's inverse gamma: shares no code with the module."""
    u = np.arange(-60.0, 140.0, 0.004)
    g = np.exp(u)
    log_f = (
        0.5 * ((n - p - 1) * np.log1p(g) - (n - 1) * np.log1p(g * (1 - r2)))
        + stats.invgamma(0.5, scale=rscale**2 * n / 2).logpdf(g)
        + u
    )
    brute = special.logsumexp(log_f) + math.log(0.004)
    assert log_jzs_bf_vs_null(r2, n, p, rscale) == pytest.approx(brute, rel=1e-11, abs=1e-10)


def _data(effect: float, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    baseline = rng.normal(79, 12, n)
    wai = rng.normal(200, 22, n)
    y = 5 + 0.5 * baseline + effect * wai + rng.normal(0, 10, n)
    return y, np.column_stack([np.ones(n), baseline, wai])


def test_a_strong_effect_favours_alliance():
    y, X = _data(-0.5, 22)
    assert bf10(y, X, 2) > 10


def test_a_null_effect_favours_the_null_more_as_n_grows():
    small = np.mean([log_bf10(*_data(0.0, 22, s), 2) for s in range(20)])
    large = np.mean([log_bf10(*_data(0.0, 400, s), 2) for s in range(20)])
    assert large < small < 0


def test_an_exactly_uninformative_alliance_term_gives_a_bf10_falling_with_n():
    """Alliance orthogonal to the outcome and baseline: R² unchanged, so bf10 is the Occam
    penalty alone, below 1 and falling towards 0 (roughly as 1/√N)."""
    values = []
    for n in (8, 32, 128, 512, 2048):
        y, X = _data(0.0, n, seed=n)
        q, _ = np.linalg.qr(np.column_stack([X[:, :2], y]))
        X[:, 2] -= q @ (q.T @ X[:, 2])
        values.append(log_bf10(y, X, 2))
    assert all(b < a < 0 for a, b in itertools.pairwise(values))
    slope = np.polyfit(np.log([8, 32, 128, 512, 2048])[2:], values[2:], 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


def test_bf10_is_invariant_to_shifting_and_rescaling_outcome_and_predictors():
    y, X = _data(-0.3, 22)
    expected = log_bf10(y, X, 2)
    changed = X.copy()
    changed[:, 2] = -3.0 * X[:, 2] + 50.0
    changed[:, 1] = 0.01 * X[:, 1] - 7.0
    assert log_bf10(10.0 * y + 7.0, changed, 2) == pytest.approx(expected, rel=1e-10)
    assert log_bf10(y - 1000.0, X, 2) == pytest.approx(expected, rel=1e-10)
    # Column order does not matter: the term may sit anywhere, the intercept too.
    assert log_bf10(y, X[:, [2, 0, 1]], 0) == pytest.approx(expected, rel=1e-12)


def test_bf01_is_the_reciprocal_of_bf10():
    for effect in (0.0, -0.3):
        y, X = _data(effect, 30, seed=3)
        assert bf01(y, X, 2) == pytest.approx(1.0 / bf10(y, X, 2), rel=1e-14)


def test_the_rscale_widens_the_prior_and_favours_the_null_for_a_small_effect():
    y, X = _data(-0.05, 40, seed=1)
    values = [log_bf10(y, X, 2, rscale) for rscale in (0.1, MEDIUM, 1.0, 3.0)]
    assert values == sorted(values, reverse=True)


def test_bad_input_is_refused():
    y, X = _data(-0.3, 10)
    with pytest.raises(ValueError, match="intercept"):
        log_bf10(y, X, 0)
    with pytest.raises(ValueError, match="intercept"):
        log_bf10(y, X[:, 1:], 1)
    with pytest.raises(ValueError, match="linearly independent"):
        log_bf10(y, np.column_stack([X, 2 * X[:, 2]]), 3)
    with pytest.raises(ValueError, match="vary"):
        log_bf10(np.ones(10), X, 2)
    with pytest.raises(ValueError, match="predictors"):
        log_bf10(y[:3], X[:3], 2)  # p = 2 needs N > 3
    with pytest.raises(ValueError, match="R²"):
        log_jzs_bf_vs_null(1.0, 10, 1)
    with pytest.raises(ValueError, match="R²"):
        log_jzs_bf_vs_null(-0.1, 10, 1)
    with pytest.raises(ValueError, match="scale"):
        log_jzs_bf_vs_null(0.5, 10, 1, rscale=0.0)
    assert log_jzs_bf_vs_null(0.5, 10, 0) == 0.0  # the intercept-only model against itself


def test_results_carry_bf10_of_lmbf_for_every_model():
    from alliance.models.plan import load_plan
    from alliance.pipeline import analyze, load_data

    plan = load_plan().with_overrides(permutations=0, bootstrap=0)
    analysis = analyze(load_data(HERE / "data" / "article_like.csv"), plan)
    for model, reference in zip(analysis.models, REFERENCE["article_like"], strict=True):
        log_bf = model.extras["bayes_factor"]["log_bf10"]
        assert _close(log_bf, reference["log_bf10"], R_TOL)
        assert model.extras["term"]["bf10"] == pytest.approx(math.exp(log_bf), rel=1e-12)


def test_a_model_whose_bayes_factor_cannot_be_computed_is_reported_not_crashed(monkeypatch):
    import alliance.models.fit as fit_module
    from alliance.models.fit import ModelData, fit_model
    from alliance.models.plan import InferenceSpec, load_plan

    def refuse(*args, **kwargs):
        raise ValueError("no variation")

    monkeypatch.setattr(fit_module, "log_bf10", refuse)
    spec = load_plan().model_specs()[0]
    X = np.column_stack([np.ones(6), [1.0, 2, 3, 4, 5, 7], [2.0, 1, 4, 3, 6, 5]])
    y = np.array([3.0, 1, 4, 1, 5, 9])
    data = ModelData(spec, y, X, ("intercept", "baseline", "wai"), 2, tuple("abcdef"), {})
    result = fit_model(data, 0.05, InferenceSpec(permutations=0, bootstrap=0))
    assert np.isnan(result.extras["term"]["bf10"])
    assert result.extras["bayes_factor"]["not_computed"] == "no variation"


def test_a_constant_outcome_is_an_analysis_error_naming_the_model():
    from alliance.errors import AnalysisError
    from alliance.models.fit import ModelData, fit_model
    from alliance.models.plan import load_plan

    spec = load_plan().model_specs()[0]
    X = np.column_stack([np.ones(6), [1.0, 2, 3, 4, 5, 7], [2.0, 1, 4, 3, 6, 5]])
    data = ModelData(spec, np.full(6, 3.0), X, ("intercept", "baseline", "wai"), 2,
                     tuple("abcdef"), {})  # fmt: skip
    with pytest.raises(AnalysisError, match="the same"):
        fit_model(data, 0.05)
