"""The winner's-curse correction checked against a simulation of the selection it corrects,
and the planning rows ``alliance power --from-results`` builds from a pilot's results.json."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.power.analytic import random_design_power, required_n
from alliance.power.planning import BENCHMARK_R, planning_rows, read_results
from alliance.power.simulation import alliance_t, random_trials
from alliance.power.winners_curse import (
    conditional_mle,
    conditional_mle_z,
    fisher_ci,
    selected_mean,
    selection,
)

runner = CliRunner()


def selected_studies(rho: float, n: int, k: int, studies: int, seed: int) -> np.ndarray:
    """Fisher z of the sample partial r of the simulated studies whose t test rejected."""
    y, X = random_trials(np.random.default_rng(seed), studies, n, k, rho)
    t = alliance_t(y, X)
    z = np.arctanh(t / np.sqrt(t * t + n - k - 2))
    _, c = selection(n, k, 0.05)
    return z[np.abs(z) > c]


@pytest.mark.parametrize("rho, n", [(0.3, 22), (0.5, 22), (0.2, 60), (-0.35, 30)])
def test_the_correction_removes_most_of_the_selection_bias(rho, n):
    k = 1
    z = selected_studies(rho, n, k, 20_000, seed=round(1000 * abs(rho)) + n)
    se, c = selection(n, k, 0.05)
    truth = math.atanh(rho)
    mc_se = z.std() / math.sqrt(len(z))
    # The model the estimator inverts (Fisher z normal, truncated by the selection) describes
    # the simulated selected studies: their mean is the truncated normal's.
    assert abs(z.mean() - float(selected_mean(truth, se, c))) < 4 * mc_se + 0.01
    naive_bias = z.mean() - truth
    corrected_bias = conditional_mle_z(z, se, c).mean() - truth
    assert abs(naive_bias) > 0.1
    assert abs(corrected_bias) < 0.4 * abs(naive_bias)


def test_the_conditional_mle_solves_its_score_equation_and_shrinks_toward_zero():
    se, c = selection(22, 1, 0.05)
    for r in (0.45, 0.6, -0.8):
        corrected = conditional_mle(r, 22, 1, 0.05)
        assert 0 < corrected / r < 1
        assert float(selected_mean(math.atanh(corrected), se, c)) == pytest.approx(
            math.atanh(r), abs=1e-9
        )
    assert conditional_mle(0.2, 22, 1, 0.05) == 0.2  # not significant: nothing selected
    # far beyond the threshold there is almost nothing to correct
    assert conditional_mle(0.95, 200, 1, 0.05) == pytest.approx(0.95, abs=1e-6)


def pilot(tmp_path, models, version="1", alpha=0.05):
    document = {"schema_version": version, "plan": {"alpha": alpha}, "models": models}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


def model(outcome, timepoint, n, r, p=0.01):
    return {
        "outcome": outcome,
        "predictor": "wai",
        "timepoint": timepoint,
        "n": n,
        "partial_r": r,
        "terms": [
            {"name": "intercept", "p": 0.5},
            {"name": "baseline", "p": 0.001},
            {"name": "wai", "p": p},
        ],
    }


def test_planning_rows_give_four_effects_and_their_sizes(tmp_path):
    path = pilot(tmp_path, [model("caps", "s4", 22, -0.55), model("caps", "pre_s3", 22, -0.2, 0.4)])
    rows = planning_rows(read_results(path), 0.05, 0.8)
    strong, weak = rows
    assert strong["covariates"] == 1 and strong["significant"]
    low, high = fisher_ci(-0.55, 22, 1)
    assert strong["ci_low"] == low and strong["ci_high"] == high
    assert strong["ci_lower_bound"] == high  # the limit nearer zero, sign kept
    assert -0.55 < strong["corrected_partial_r"] < 0
    assert strong["corrected_partial_r"] == conditional_mle(-0.55, 22, 1, 0.05)
    assert strong["benchmark_partial_r"] == -BENCHMARK_R

    def needed(r):
        return required_n(lambda n: random_design_power(r, n, 1, 0.05), 0.8, 1)

    assert strong["n_observed"] == needed(-0.55)
    assert strong["n_ci_low"] == needed(high)
    assert strong["n_corrected"] == needed(strong["corrected_partial_r"])
    assert strong["n_benchmark"] == needed(-0.28)
    assert strong["n_observed"] < strong["n_corrected"] < strong["n_ci_low"]
    assert not weak["significant"] and weak["corrected_partial_r"] == -0.2
    assert weak["ci_lower_bound"] == 0.0 and weak["n_ci_low"] is None


def test_from_results_at_the_command_line(tmp_path):
    path = pilot(tmp_path, [model("iesr", "s9", 22, -0.6)])
    out = tmp_path / "plan" / "power.json"
    result = runner.invoke(
        app, ["power", "--simulations", "0", "--from-results", str(path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    (row,) = document["planning"]
    assert row["outcome"] == "iesr" and row["n_observed"] < row["n_corrected"]
    assert document["planning_source"] == "results.json"
    assert "Flückiger" in result.output
    assert (tmp_path / "plan" / "power_planning.csv").exists()
    assert "Planning from the pilot" in (tmp_path / "plan" / "power.html").read_text()


@pytest.mark.parametrize(
    "content, message",
    [
        ({"schema_version": "2", "plan": {"alpha": 0.05}, "models": []}, "schema version '2'"),
        ({"schema_version": "1", "plan": {"alpha": 0.05}, "models": []}, "models"),
        ({"schema_version": "1", "plan": {"alpha": 0.05}, "models": [{"outcome": "caps"}]},
         "models\\[0\\].predictor"),
        ("not json", "not valid JSON"),
    ],
)  # fmt: skip
def test_a_results_file_it_cannot_use_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    result = runner.invoke(app, ["power", "--simulations", "0", "--from-results", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    import re

    assert re.search(message, result.output), result.output
