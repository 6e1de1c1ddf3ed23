"""``alliance power`` at the command line: the numbers it writes, the plan it reads, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.power.analytic import (
    f2_from_partial_r,
    fixed_design_power,
    random_design_power,
    required_n,
)

runner = CliRunner()


def run_power(tmp_path, *options):
    out = tmp_path / "power.json"
    result = runner.invoke(app, ["power", "--simulations", "500", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_defaults_are_the_articles_design(tmp_path):
    document, output = run_power(tmp_path)
    assert [(row["partial_r"], row["n"]) for row in document["power"]] == [
        (0.3, 22),
        (0.4, 22),
        (0.5, 22),
    ]
    for row in document["power"]:
        assert row["covariates"] == 1 and row["alpha"] == 0.05
        f2 = f2_from_partial_r(row["partial_r"])
        assert row["fixed_design_power"] == fixed_design_power(f2, 22, 1)
        assert row["random_design_power"] == random_design_power(row["partial_r"], 22, 1)
        assert abs(row["simulated_power"] - row["random_design_power"]) < 4 * row["simulated_mc_se"]
    for row in document["sample_size"]:
        f2 = f2_from_partial_r(row["partial_r"])
        assert row["n_fixed_design"] == required_n(
            lambda n, f2=f2: fixed_design_power(f2, n, 1), 0.8, 1
        )
    assert "planning figure" in output and "G*Power" in output


def test_tests_divide_alpha_and_pwr_convention_is_used(tmp_path):
    document, output = run_power(
        tmp_path, "--effect", "0.35", "--n", "40", "--tests", "6", "--convention", "pwr"
    )
    (row,) = document["power"]
    assert row["alpha"] == pytest.approx(0.05 / 6)
    f2 = f2_from_partial_r(0.35)
    assert row["fixed_design_power"] == fixed_design_power(f2, 40, 1, 0.05 / 6, "pwr")
    assert "alpha / 6 tests" in output


def test_the_plans_covariates_count(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "alpha = 0.01\ncovariates = ['age', 'sex']\n[[outcomes]]\nscore='caps'\n"
        "[[predictors]]\nscore='wai'\ntimepoints=['s4']\n"
    )
    document, _ = run_power(tmp_path, "--plan", str(plan), "--simulations", "0")
    row = document["power"][0]
    assert row["covariates"] == 3 and row["alpha"] == 0.01
    assert "simulated_power" not in row
    document, _ = run_power(tmp_path, "--plan", str(plan), "--covariates", "5")
    assert document["power"][0]["covariates"] == 5


def test_a_seed_gives_the_same_file(tmp_path):
    first, _ = run_power(tmp_path, "--seed", "9")
    second, _ = run_power(tmp_path, "--seed", "9")
    assert first == second


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--effect", "1.2"], "strictly between -1 and 1"),
        (["--effect", "0"], "not be 0"),
        (["--convention", "gpow"], "choose one of gpower, pwr"),
        (["--n", "4", "--covariates", "3"], "no residual degrees of freedom"),
        (["--power", "1"], "--power"),
    ],
)
def test_impossible_requests_are_usage_errors(options, reason):
    result = runner.invoke(app, ["power", *options])
    assert result.exit_code == 2
    assert reason in " ".join(result.output.replace("│", " ").split())
