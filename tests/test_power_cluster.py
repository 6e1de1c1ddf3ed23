"""``alliance power --design`` on Dask: the same power.json for any worker count or scheduler,
failing cells reported with their parameters, and the design options' bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alliance.cli import app

runner = CliRunner()
GRID = ["--design", "--effect", "0", "--effect", "0.3", "--n", "30", "--n", "60"]
GRID += ["--simulations", "400", "--missing-rate", "0.1", "--seed", "4"]


def run(tmp_path, name, *options, code=0):
    out = tmp_path / name / "power.json"
    result = runner.invoke(app, ["power", *GRID, *options, "--out", str(out)])
    assert result.exit_code == code, result.output
    return out, result.output


def test_power_json_is_byte_identical_for_any_worker_count_or_scheduler(tmp_path):
    from distributed import LocalCluster

    one, _ = run(tmp_path, "one", "--workers", "1")
    two, _ = run(tmp_path, "two", "--workers", "2")
    with LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        remote, _ = run(tmp_path, "remote", "--scheduler", cluster.scheduler_address)
    assert one.read_bytes() == two.read_bytes() == remote.read_bytes()
    document = json.loads(one.read_text())
    assert [(row["effect"], row["n"]) for row in document["design_power"]] == [
        (0.0, 30), (0.0, 60), (0.3, 30), (0.3, 60),
    ]  # fmt: skip
    for row in document["design_power"]:
        assert set(row) >= {
            "n", "effect", "simulations", "family_any", "family_all", "family_any_mc_se",
            "family_all_mc_se", "models",
        }  # fmt: skip
        assert len(row["models"]) == 6
        assert set(row["models"][0]) >= {"outcome", "timepoint", "power", "mc_se"}
    # the single-test keys are kept
    assert {"power", "sample_size", "alpha", "tests", "seed"} <= set(document)
    for name in ("power.html", "power_curve.svg", "power_curve.png", "power_design.csv"):
        assert (tmp_path / "one" / name).stat().st_size > 0


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path):
    out = tmp_path / "power.json"
    result = runner.invoke(
        app,
        ["power", "--design", "--effect", "0.3", "--effect", "0.95", "--n", "40",
         "--simulations", "200", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "cell failed (n = 40, effect = 0.95" in result.output
    document = json.loads(out.read_text())
    assert [row["effect"] for row in document["design_power"]] == [0.3]
    (failure,) = document["design_failures"]
    assert failure["n"] == 40 and failure["effect"] == 0.95 and "out of reach" in failure["error"]


@pytest.mark.parametrize(
    "options, hint",
    [
        (["--effect", "1.2"], "--effect"),
        (["--effect", "-1"], "--effect"),
        (["--missing-rate", "1"], "--missing-rate"),
        (["--therapists", "5", "--icc", "1"], "--icc"),
        (["--therapists", "5"], "--icc"),
        (["--icc", "0.1"], "--therapists"),
        (["--missing-mechanism", "mnar"], "--missing-mechanism"),
        (["--errors", "cauchy"], "--errors"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler"),
    ],
)
def test_bad_design_options_are_usage_errors(options, hint):
    result = runner.invoke(app, ["power", "--design", "--simulations", "10", *options])
    assert result.exit_code == 2, result.output
    assert hint in result.output


def test_a_scheduler_that_cannot_be_reached_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app,
        ["power", "--design", "--effect", "0.3", "--simulations", "10",
         "--scheduler", "tcp://127.0.0.1:9"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "cannot reach a Dask scheduler" in result.output
    assert "Traceback" not in result.output


def test_effect_zero_still_needs_design():
    result = runner.invoke(app, ["power", "--effect", "0"])
    assert result.exit_code == 2 and "--design" in result.output


def test_without_dask_one_worker_still_runs_and_more_is_a_clear_error(tmp_path, monkeypatch):
    from alliance.power import cells

    monkeypatch.setattr(cells, "dask_available", lambda: False)
    options = ["power", "--design", "--effect", "0.3", "--n", "30", "--simulations", "50"]
    assert runner.invoke(app, [*options, "--workers", "1"]).exit_code == 0
    result = runner.invoke(app, [*options, "--workers", "2"])
    assert result.exit_code == 1
    assert "alliance-outcome[dask]" in result.output and "Traceback" not in result.output


def test_a_plan_the_generator_cannot_simulate_is_bad_input(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "covariates = ['age']\n[[outcomes]]\nscore='caps'\n"
        "[[predictors]]\nscore='wai'\ntimepoints=['s4']\n"
    )
    result = runner.invoke(app, ["power", "--design", "--plan", str(plan), "--simulations", "10"])
    assert result.exit_code == 1
    assert "covariates age" in result.output and "Traceback" not in result.output


def test_a_per_outcome_family_and_the_plans_timepoints(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "[[outcomes]]\nscore='iesr'\n[[predictors]]\nscore='wai'\ntimepoints=['s4', 's9']\n"
        "[multiplicity]\nmethod='bonferroni'\n"
    )
    out = tmp_path / "power.json"
    result = runner.invoke(
        app,
        ["power", "--design", "--plan", str(plan), "--family", "per_outcome", "--effect", "0.3",
         "--n", "50", "--simulations", "300", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["design"]["adjust_method"] == "bonferroni"
    assert document["design"]["family"] == "per_outcome"
    (cell,) = document["design_power"]
    assert [(m["outcome"], m["timepoint"]) for m in cell["models"]] == [
        ("iesr", "s4"),
        ("iesr", "s9"),
    ]


@pytest.mark.parametrize(
    "options",
    [["--missing-rate", "0.1"], ["--workers", "2"], ["--therapists", "3", "--icc", "0.1"],
     ["--errors", "normal"], ["--adjust", "none"]],
)  # fmt: skip
def test_design_options_without_design_are_usage_errors(options):
    result = runner.invoke(app, ["power", *options])
    assert result.exit_code == 2 and "--design" in result.output
