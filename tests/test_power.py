"""Power of the alliance test: analytic (against R), exact random design, and the simulator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from alliance.power.analytic import (
    critical_partial_r,
    f2_from_partial_r,
    fixed_design_power,
    partial_r_from_f2,
    random_design_power,
    required_n,
)
from alliance.power.simulation import (
    alliance_t,
    simulated_power,
    simulated_power_fixed_design,
)

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "r" / "power" / "power.json").read_text())
EXACT = json.loads((FIXTURES / "power" / "exact_power.json").read_text())
# R's pnf (pnbeta) stops its series at an absolute error of 1e-9 (R's nmath/pnbeta.c, errmax);
# scipy's ncf is exact to double precision against the 40-digit values below.
R_PNF_ERROR = 2e-9


@pytest.mark.parametrize(
    "row", REFERENCE["power"], ids=lambda r: f"f2={r['f2']},n={r['n']},k={r['k']}"
)
def test_fixed_design_power_matches_r_in_both_conventions(row):
    alpha = float(row["alpha"])
    for convention in ("gpower", "pwr"):
        ours = fixed_design_power(row["f2"], row["n"], row["k"], alpha, convention)
        assert ours == pytest.approx(float(row[convention]), rel=0, abs=R_PNF_ERROR), convention


@pytest.mark.parametrize("row", EXACT["fixed_gpower"], ids=lambda r: f"f2={r['f2']},n={r['n']}")
def test_fixed_design_power_matches_40_digit_values(row):
    ours = fixed_design_power(row["f2"], row["n"], row["k"], row["alpha"])
    assert ours == pytest.approx(float(row["power"]), rel=1e-12)


@pytest.mark.parametrize("row", EXACT["random"], ids=lambda r: f"r={r['partial_r']},n={r['n']}")
def test_random_design_power_matches_40_digit_values(row):
    ours = random_design_power(row["partial_r"], row["n"], row["k"], row["alpha"])
    assert ours == pytest.approx(float(row["power"]), rel=1e-11)


@pytest.mark.parametrize("row", REFERENCE["required_n"], ids=lambda r: f"f2={r['f2']},k={r['k']}")
def test_required_n_matches_pwr(row):
    alpha = float(row["alpha"])
    n = required_n(
        lambda n: fixed_design_power(row["f2"], n, row["k"], alpha, "pwr"), row["power"], row["k"]
    )
    assert n == row["n_pwr"]


def test_required_n_is_the_smallest_reaching_the_target():
    def power(n):
        return fixed_design_power(0.15, n, 1)

    n = required_n(power, 0.8, 1)
    assert power(n) >= 0.8 > power(n - 1)
    assert n == 55  # G*Power 3.1's answer for f² = .15, α = .05, one tested predictor of two
    assert required_n(lambda n: fixed_design_power(1e-9, n, 1), 0.8, 1) is None


def test_conventions_agree_without_covariates():
    assert fixed_design_power(0.15, 30, 0, convention="pwr") == pytest.approx(
        fixed_design_power(0.15, 30, 0, convention="gpower"), rel=1e-12
    )


def test_effect_size_conversions_round_trip():
    assert f2_from_partial_r(0.5) == pytest.approx(1 / 3)
    assert partial_r_from_f2(f2_from_partial_r(-0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        f2_from_partial_r(1.0)


def test_random_design_power_is_alpha_under_the_null_and_symmetric():
    for n, k, alpha in [(22, 1, 0.05), (10, 3, 0.01), (200, 2, 0.05 / 6)]:
        assert random_design_power(0.0, n, k, alpha) == pytest.approx(alpha, abs=1e-10)
    assert random_design_power(0.4, 22, 1) == pytest.approx(random_design_power(-0.4, 22, 1))


def test_critical_r_is_the_t_tests_boundary():
    r = critical_partial_r(22, 1)
    v = 22 - 1 - 2
    assert r * math.sqrt(v / (1 - r * r)) == pytest.approx(stats.t.isf(0.025, v), rel=1e-12)


def test_random_design_is_below_fixed_at_small_n_and_meets_it_at_large_n():
    r = 0.4
    f2 = f2_from_partial_r(r)
    assert random_design_power(r, 22, 1) < fixed_design_power(f2, 22, 1)
    assert random_design_power(r, 400, 1) == pytest.approx(fixed_design_power(f2, 400, 1), abs=1e-6)


@pytest.mark.parametrize(("r", "n", "k"), [(0.36, 22, 1), (-0.5, 15, 2), (0.2, 60, 4)])
def test_simulated_random_design_power_agrees_with_the_exact_value(r, n, k):
    simulated = simulated_power(r, n, k, simulations=40_000, seed=11)
    exact = random_design_power(r, n, k)
    assert abs(simulated.power - exact) < 4 * math.sqrt(exact * (1 - exact) / 40_000)


@pytest.mark.parametrize(("f2", "n", "k"), [(0.15, 22, 1), (0.35, 12, 3)])
def test_simulated_fixed_design_power_agrees_with_g_power(f2, n, k):
    simulated = simulated_power_fixed_design(f2, n, k, simulations=40_000, seed=5)
    analytic = fixed_design_power(f2, n, k)
    assert abs(simulated.power - analytic) < 4 * math.sqrt(analytic * (1 - analytic) / 40_000)


def test_covariate_effects_and_correlations_do_not_change_random_design_power():
    # The simulator leaves both out; here they are put in (baseline strongly predicting post,
    # alliance correlated .5 with baseline), and the power must stay the exact value.
    rng = np.random.default_rng(3)
    size, n, rho = 40_000, 22, 0.36
    baseline = rng.standard_normal((size, n))
    alliance = 0.5 * baseline + math.sqrt(0.75) * rng.standard_normal((size, n))
    unique = alliance - 0.5 * baseline  # the part of alliance that baseline does not explain
    beta = rho / math.sqrt(1 - rho * rho) / math.sqrt(0.75)
    post = 10 + 0.8 * baseline + beta * unique + rng.standard_normal((size, n))
    X = np.stack([np.ones((size, n)), baseline, alliance], axis=-1)
    critical = stats.t.isf(0.025, n - 3)
    power = float(np.mean(np.abs(alliance_t(post, X)) > critical))
    exact = random_design_power(rho, n, 1)
    assert abs(power - exact) < 4 * math.sqrt(exact * (1 - exact) / size)


def test_stacked_t_matches_statsmodels():
    rng = np.random.default_rng(8)
    X = np.concatenate([np.ones((5, 14, 1)), rng.standard_normal((5, 14, 3))], axis=-1)
    y = rng.standard_normal((5, 14)) + X[..., -1]
    ours = alliance_t(y, X)
    for b in range(5):
        assert ours[b] == pytest.approx(sm.OLS(y[b], X[b]).fit().tvalues[-1], rel=1e-10)


def test_a_seed_gives_the_same_power_and_another_seed_another_draw():
    first = simulated_power(0.3, 22, 1, simulations=3000, seed=4)
    assert simulated_power(0.3, 22, 1, simulations=3000, seed=4) == first
    assert simulated_power(0.3, 22, 1, simulations=3000, seed=5) != first


@pytest.mark.parametrize("call", [
    lambda: fixed_design_power(0.15, 3, 1),
    lambda: random_design_power(0.3, 4, 2),
    lambda: fixed_design_power(0.15, 22, 1, convention="gpow"),
    lambda: simulated_power(0.3, 22, 1, simulations=0),
    lambda: required_n(lambda n: 0.5, 1.2, 1),
])  # fmt: skip
def test_impossible_requests_are_value_errors(call):
    with pytest.raises(ValueError):
        call()
